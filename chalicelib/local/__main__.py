from chalicelib.local.stack import main

raise SystemExit(main())
