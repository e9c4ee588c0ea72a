"""Accounts: workspaces (the tenants), the people in them and their roles, sign-in and
its throttling, API keys, instance administrators, and the audit log.

Routes, the CLI and the portal call: `ensure_first_run()`, `create_workspace()`,
`resolve_workspace()`, `create_owned_workspace()`, `update_workspace()`,
`workspaces_of()`, `add_member()`, `change_member_role()`, `remove_member()`,
`list_members()`, `sign_in()`, `sign_out()`, `change_password()`, `set_password()`,
`resolve_credential()`, `create_api_key()`, `revoke_api_key()`,
`grant_instance_admin()`, `revoke_instance_admin()`, `list_audit_events()`,
`audit_filter_choices()`; invitations `invite_member()`, `list_invitations()`,
`revoke_invitation()`, `find_invitation()`, `accept_invitation()`, `mail_invitation()`
(`invitations.py`); a user's own profile `rename_user()`, `sign_out_everywhere()`
(`user_profile.py`).
Every other package writes its changes' audit entries with `record_audit()` and takes
the caller's workspace as a `WorkspaceRef`.

May call: `core`, `store`, `channels` (mail for invitations), `config`, and
`sending.quiet_hours` (a workspace's new quiet hours re-time the texts already waiting
for them).
"""
