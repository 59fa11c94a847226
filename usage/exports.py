"""CSV downloads whose cells a spreadsheet shows as text: plumbing's, under the names usage always used."""

from plumbing.spreadsheets import FORMULA_STARTS, csv_cell, csv_response

__all__ = ["FORMULA_STARTS", "csv_cell", "csv_response"]
