"""The community Python client for Keepa (akaszynski/keepa on PyPI) against the simulator.

Run by scripts/keepa-python-client.sh, which starts `arbdesk keepa-sim` and sets KEEPA_SIM
to its base URL. The client is used unchanged, its requests sent to the simulator instead
of https://api.keepa.com. Every call a client of arbdesk's kind makes must parse, and what
it parses must hold what Keepa's answers hold. Exits non-zero, naming the call, otherwise.
"""

import os
import sys

import keepa
import keepa.keepa_sync as keepa_sync
import requests

BASE = os.environ["KEEPA_SIM"].rstrip("/")
KEY = "k" * 64  # Keepa keys are 64 characters; the simulator takes any key.


class Redirected:
    """`requests` with Keepa's address replaced by the simulator's."""

    def get(self, url, *args, **kwargs):
        return requests.get(url.replace("https://api.keepa.com", BASE), *args, **kwargs)

    def __getattr__(self, name):
        return getattr(requests, name)


keepa_sync.requests = Redirected()
failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)


def call(what, f):
    try:
        result = f()
    except Exception as e:  # noqa: BLE001 - any exception is the finding
        check(what, False, f"{type(e).__name__}: {e}")
        return None
    check(what, True)
    return result


api = call("Keepa(key, check_key=True) reads /token", lambda: keepa.Keepa(KEY, check_key=True))
if api is None:
    sys.exit(1)
check("the token balance is known", api.tokens_left > 0, str(api.tokens_left))

roots = call("category_lookup(0) lists the roots", lambda: api.category_lookup(0, domain="DE"))
root = next(iter(roots or {}), None)
check("a root category", root is not None)
call(
    "category_lookup(root, include_parents=True)",
    lambda: api.category_lookup(int(root), domain="DE", include_parents=True),
)
sellers = call("best_sellers_query(root)", lambda: api.best_sellers_query(root, domain="DE")) or []
check("a best-seller list", len(sellers) > 0, str(len(sellers)))

asins = sellers[:5]
for domain in ["DE", "GB"]:
    products = call(
        f"query({domain}, stats=90, buybox, rating, days=30)",
        lambda: api.query(
            asins, domain=domain, stats=90, history=True, buybox=True, rating=True,
            days=30, progress_bar=False,
        ),
    ) or []
    listed = [p for p in products if p.get("productType") == 0]
    check(f"{domain}: listed products", len(listed) > 0, str(len(products)))
    for p in listed:
        asin = p["asin"]
        check(f"{domain} {asin}: 36 csv entries", len(p["csv"]) == 36, str(len(p["csv"])))
        data = p.get("data", {})
        for series in ["NEW", "SALES", "BUY_BOX_SHIPPING", "RATING", "COUNT_REVIEWS"]:
            check(f"{domain} {asin}: history of {series}", len(data.get(series, [])) > 0)
        rating = data.get("RATING")
        if rating is not None and len(rating) > 0:
            check(f"{domain} {asin}: a rating of 0 to 5 stars", 0 <= max(rating) <= 5.0)
        parsed = p.get("stats_parsed", {})
        check(f"{domain} {asin}: parsed stats", "current" in parsed and "avg90" in parsed)

call("query(history=False)", lambda: api.query(asins, domain="GB", history=False, progress_bar=False))
call("query(update=0)", lambda: api.query(asins[:2], domain="FR", update=0, progress_bar=False))
call("query(typed=True)", lambda: api.query(asins[:2], domain="IT", stats=30, typed=True, progress_bar=False))

if failures:
    print(f"{len(failures)} failed: {', '.join(failures)}")
    sys.exit(1)
print("the Python client parsed every answer")
