//! ST-LINK protocol.
