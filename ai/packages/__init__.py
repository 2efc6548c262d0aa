"""`.ps2model` packages: writing and installing them (exporter), checking untrusted ones
(validation) and the installed models with the active one (registry)."""
