from tools.local.stack import main

raise SystemExit(main())
