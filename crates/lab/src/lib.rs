//! Emulated estate of surveillance devices answering the real protocols, on loopback or in network namespaces.
