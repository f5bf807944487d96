"""The loop's report: one HTML page (no scripts) with its PNGs, built from the artefacts the stages wrote."""

from dreamgen_core.report.demo import REPORT_DIR, demo_report
from dreamgen_core.report.errors import ReportError
from dreamgen_core.report.page import Image, Page, Section, Table, Text

__all__ = ["REPORT_DIR", "Image", "Page", "ReportError", "Section", "Table", "Text", "demo_report"]
