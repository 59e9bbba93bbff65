//! Active discovery: target parsing, rate-limited TCP/HTTP/RTSP/TLS/ONVIF probes and multicast discoveries.
