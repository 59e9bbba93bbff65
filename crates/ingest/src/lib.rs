//! File importers: CSV/JSON registers, nmap XML, pcap/pcapng, scan results.
