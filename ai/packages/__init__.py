"""`.ps2model` packages: writing and installing them (exporter), checking untrusted ones
(validation), the installed models with the active one (registry), signatures and the trust store
(signing, keys), and catalogs to share them (catalog, download, library, publish)."""
