"""The desktop application (PySide6): the only package that imports Qt; it calls the Qt-free `app` and `ai`."""
