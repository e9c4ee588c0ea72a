"""The numbers of SMPP 3.4, named as the specification names them.

IntEnums so that logs and errors can say `ESME_RTHROTTLED` instead of `0x58`;
the codec itself works with plain ints, which compare equal to these members.
"""

from __future__ import annotations

import enum

#: Bit set in every response command_id.
RESPONSE_BIT = 0x80000000

#: The interface_version an SMPP 3.4 peer announces in its bind.
INTERFACE_VERSION_34 = 0x34


class CommandId(enum.IntEnum):
    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


class CommandStatus(enum.IntEnum):
    """Every command_status value of SMPP 3.4 (section 5.1.3), with its ESME_ name."""

    ESME_ROK = 0x00000000  # no error
    ESME_RINVMSGLEN = 0x00000001  # message length is invalid
    ESME_RINVCMDLEN = 0x00000002  # command length is invalid
    ESME_RINVCMDID = 0x00000003  # invalid command id
    ESME_RINVBNDSTS = 0x00000004  # incorrect bind status for given command
    ESME_RALYBND = 0x00000005  # ESME already in bound state
    ESME_RINVPRTFLG = 0x00000006  # invalid priority flag
    ESME_RINVREGDLVFLG = 0x00000007  # invalid registered delivery flag
    ESME_RSYSERR = 0x00000008  # system error
    ESME_RINVSRCADR = 0x0000000A  # invalid source address
    ESME_RINVDSTADR = 0x0000000B  # invalid destination address
    ESME_RINVMSGID = 0x0000000C  # message id is invalid
    ESME_RBINDFAIL = 0x0000000D  # bind failed
    ESME_RINVPASWD = 0x0000000E  # invalid password
    ESME_RINVSYSID = 0x0000000F  # invalid system id
    ESME_RCANCELFAIL = 0x00000011  # cancel_sm failed
    ESME_RREPLACEFAIL = 0x00000013  # replace_sm failed
    ESME_RMSGQFUL = 0x00000014  # message queue full
    ESME_RINVSERTYP = 0x00000015  # invalid service type
    ESME_RINVNUMDESTS = 0x00000033  # invalid number of destinations
    ESME_RINVDLNAME = 0x00000034  # invalid distribution list name
    ESME_RINVDESTFLAG = 0x00000040  # destination flag is invalid (submit_multi)
    ESME_RINVSUBREP = 0x00000042  # invalid submit with replace request
    ESME_RINVESMCLASS = 0x00000043  # invalid esm_class field data
    ESME_RCNTSUBDL = 0x00000044  # cannot submit to distribution list
    ESME_RSUBMITFAIL = 0x00000045  # submit_sm or submit_multi failed
    ESME_RINVSRCTON = 0x00000048  # invalid source address TON
    ESME_RINVSRCNPI = 0x00000049  # invalid source address NPI
    ESME_RINVDSTTON = 0x00000050  # invalid destination address TON
    ESME_RINVDSTNPI = 0x00000051  # invalid destination address NPI
    ESME_RINVSYSTYP = 0x00000053  # invalid system_type field
    ESME_RINVREPFLAG = 0x00000054  # invalid replace_if_present flag
    ESME_RINVNUMMSGS = 0x00000055  # invalid number of messages
    ESME_RTHROTTLED = 0x00000058  # throttling error: ESME exceeded allowed message limits
    ESME_RINVSCHED = 0x00000061  # invalid scheduled delivery time
    ESME_RINVEXPIRY = 0x00000062  # invalid message validity period
    ESME_RINVDFTMSGID = 0x00000063  # predefined message invalid or not found
    ESME_RX_T_APPN = 0x00000064  # ESME receiver temporary app error
    ESME_RX_P_APPN = 0x00000065  # ESME receiver permanent app error
    ESME_RX_R_APPN = 0x00000066  # ESME receiver reject message error
    ESME_RQUERYFAIL = 0x00000067  # query_sm request failed
    ESME_RINVOPTPARSTREAM = 0x000000C0  # error in the optional part of the PDU body
    ESME_ROPTPARNOTALLWD = 0x000000C1  # optional parameter not allowed
    ESME_RINVPARLEN = 0x000000C2  # invalid parameter length
    ESME_RMISSINGOPTPARAM = 0x000000C3  # expected optional parameter missing
    ESME_RINVOPTPARAMVAL = 0x000000C4  # invalid optional parameter value
    ESME_RDELIVERYFAILURE = 0x000000FE  # delivery failure (data_sm_resp)
    ESME_RUNKNOWNERR = 0x000000FF  # unknown error


def status_name(status: int) -> str:
    """`ESME_RTHROTTLED` for 0x58; codes outside the specification (vendor-specific
    0x400-0x4FF, reserved) keep their number so a log line still says which."""
    try:
        return CommandStatus(status).name
    except ValueError:
        return f"0x{status:08X}"


def command_name(command_id: int) -> str:
    """`submit_sm` for 0x00000004, the hex number for an unknown id."""
    try:
        return CommandId(command_id).name.lower()
    except ValueError:
        return f"0x{command_id:08X}"


class Tag(enum.IntEnum):
    """Optional parameter (TLV) tags of SMPP 3.4 (section 5.3.2)."""

    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383


#: Value lengths the specification fixes; a TLV of one of these tags with another
#: length is answered with ESME_RINVPARLEN instead of being misread.
TLV_FIXED_LENGTHS: dict[int, int] = {
    Tag.DEST_ADDR_SUBUNIT: 1,
    Tag.DEST_NETWORK_TYPE: 1,
    Tag.DEST_BEARER_TYPE: 1,
    Tag.DEST_TELEMATICS_ID: 2,
    Tag.SOURCE_ADDR_SUBUNIT: 1,
    Tag.SOURCE_NETWORK_TYPE: 1,
    Tag.SOURCE_BEARER_TYPE: 1,
    Tag.SOURCE_TELEMATICS_ID: 1,
    Tag.QOS_TIME_TO_LIVE: 4,
    Tag.PAYLOAD_TYPE: 1,
    Tag.MS_MSG_WAIT_FACILITIES: 1,
    Tag.PRIVACY_INDICATOR: 1,
    Tag.USER_MESSAGE_REFERENCE: 2,
    Tag.USER_RESPONSE_CODE: 1,
    Tag.SOURCE_PORT: 2,
    Tag.DESTINATION_PORT: 2,
    Tag.SAR_MSG_REF_NUM: 2,
    Tag.LANGUAGE_INDICATOR: 1,
    Tag.SAR_TOTAL_SEGMENTS: 1,
    Tag.SAR_SEGMENT_SEQNUM: 1,
    Tag.SC_INTERFACE_VERSION: 1,
    Tag.CALLBACK_NUM_PRES_IND: 1,
    Tag.NUMBER_OF_MESSAGES: 1,
    Tag.DPF_RESULT: 1,
    Tag.SET_DPF: 1,
    Tag.MS_AVAILABILITY_STATUS: 1,
    Tag.NETWORK_ERROR_CODE: 3,
    Tag.DELIVERY_FAILURE_REASON: 1,
    Tag.MORE_MESSAGES_TO_SEND: 1,
    Tag.MESSAGE_STATE: 1,
    Tag.DISPLAY_TIME: 1,
    Tag.SMS_SIGNAL: 2,
    Tag.MS_VALIDITY: 1,
    Tag.ALERT_ON_MESSAGE_DELIVERY: 0,
    Tag.ITS_REPLY_TYPE: 1,
    Tag.ITS_SESSION_INFO: 2,
}


class MessageState(enum.IntEnum):
    """message_state of query_sm_resp and of the message_state TLV in receipts."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


#: The `stat:` word of a text delivery receipt (Appendix B) for each message_state.
RECEIPT_STAT: dict[int, str] = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}


class Ton(enum.IntEnum):
    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER_NUMBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6


class Npi(enum.IntEnum):
    UNKNOWN = 0
    ISDN = 1  # E.163/E.164
    DATA = 3  # X.121
    TELEX = 4  # F.69
    LAND_MOBILE = 6  # E.212
    NATIONAL = 8
    PRIVATE = 9
    ERMES = 10
    INTERNET = 14  # IP
    WAP_CLIENT_ID = 18


class DataCoding(enum.IntEnum):
    SMSC_DEFAULT = 0x00  # usually GSM 03.38 (7-bit default alphabet)
    IA5 = 0x01
    OCTET_UNSPECIFIED_2 = 0x02
    LATIN_1 = 0x03
    OCTET_UNSPECIFIED = 0x04
    JIS = 0x05
    CYRILLIC = 0x06
    LATIN_HEBREW = 0x07
    UCS2 = 0x08
    PICTOGRAM = 0x09
    ISO_2022_JP = 0x0A
    EXTENDED_KANJI = 0x0D
    KS_C_5601 = 0x0E


# esm_class (section 5.2.12): messaging mode in bits 1-0, message type in bits 5-2,
# GSM network features in bits 7-6.
ESM_MODE_MASK = 0x03
ESM_MODE_DEFAULT = 0x00
ESM_MODE_DATAGRAM = 0x01
ESM_MODE_FORWARD = 0x02
ESM_MODE_STORE_AND_FORWARD = 0x03
ESM_TYPE_MASK = 0x3C
ESM_TYPE_DEFAULT = 0x00
ESM_TYPE_DELIVERY_RECEIPT = 0x04  # SMSC delivery receipt (deliver_sm)
ESM_TYPE_DELIVERY_ACK = 0x08  # SME delivery acknowledgement
ESM_TYPE_USER_ACK = 0x10  # SME manual/user acknowledgement
ESM_TYPE_CONVERSATION_ABORT = 0x18  # Korean CDMA
ESM_TYPE_INTERMEDIATE_NOTIFICATION = 0x20
ESM_UDHI = 0x40  # short_message starts with a user data header
ESM_REPLY_PATH = 0x80

# registered_delivery (section 5.2.17)
REG_RECEIPT_MASK = 0x03
REG_NO_RECEIPT = 0x00
REG_RECEIPT_ALWAYS = 0x01  # receipt on final outcome, success or failure
REG_RECEIPT_ON_FAILURE = 0x02
REG_SME_ACK_MASK = 0x0C
REG_INTERMEDIATE = 0x10

#: Largest short_message the mandatory field can carry (sm_length is one octet,
#: 254 is the specification's limit); longer content goes in message_payload.
MAX_SHORT_MESSAGE = 254
