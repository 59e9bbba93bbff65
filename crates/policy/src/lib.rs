//! Policy regimes as data, CEL predicates, findings with reasons, waivers. No I/O.
