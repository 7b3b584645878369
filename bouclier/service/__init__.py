"""`bouclier serve`: the registry and matching service that platforms and helplines connect to.

Modules: settings (configuration), models + migrations (schema), db (engine, transactions), auth (API
keys), audit (hash-chained log), store (the registry), index (in-memory matchers), exchange (hash
list formats), ratelimit, metrics, app (FastAPI), cli (commands), loadtest (benchmark helper).
"""
