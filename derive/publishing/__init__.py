"""Finished files: the documents assembled, the web page, PDFs compiled, files written."""
