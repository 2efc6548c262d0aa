"""Bundled data: taxonomy, icons, style; a package only so that installs carry the files."""
