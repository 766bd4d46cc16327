"""Reports: papermill runs the account notebook per account; its outputs become one offline page."""
