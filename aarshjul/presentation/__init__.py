"""What pages and emails share: the catalogues, the one Jinja2 environment, dates and numbers as people write them."""
