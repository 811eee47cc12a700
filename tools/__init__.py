"""What operators and developers run beside Beacon: the ``beacon`` command (tools.cli) and the
local stack (tools.local). Nothing here is deployed: Chalice ships app.py, chalicelib/ and vendor/,
and no module of chalicelib or app.py imports tools (tests/unit/test_import_contract.py)."""
