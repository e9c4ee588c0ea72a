"""SMPP 3.4: the PDU codec (`pdu`), its numbers (`constants`), and the ESME connector."""
