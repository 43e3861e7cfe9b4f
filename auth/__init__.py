"""Identity: accounts, WeChat mini-program and SMS logins, tokens (ES256 JWT + rotating refresh),
department clients and staff roles, real-person authentication (实人认证), and the guards every
domain uses (``auth.guards``). ``auth.wiring`` is what the application factory plugs in.
"""
