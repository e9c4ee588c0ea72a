"""Pure rules of smscast: no database, no sockets, no clock reads (pass `now`)."""
