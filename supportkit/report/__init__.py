"""Reports: papermill runs the account notebook per account and nbconvert renders it offline."""
