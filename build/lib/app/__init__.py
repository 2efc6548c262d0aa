"""Game Texture Sorter application: Qt-free workflow (scan, pipeline, sort, CLI); Qt lives in app.ui."""
