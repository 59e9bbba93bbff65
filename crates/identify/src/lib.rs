//! Observations to identified devices: parsers of device replies (hostile-input safe) and the signature engine. No I/O.
