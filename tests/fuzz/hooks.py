"""schemathesis hooks for tests/fuzz/run.sh.

Hypothesis likes to reuse small header values ("0", "!"), so nearly every generated write reused
an Idempotency-Key with a different body and was (correctly) refused with 422
idempotency_key_reused, and the fuzzer rarely reached the card logic. Here seven writes in eight
that carry a valid key get it made unique (deterministically, by a counter: runs stay
reproducible under a fixed seed); the eighth keeps the generated key, so replays and key reuse are
still exercised. Invalid keys (empty, too long, not visible ASCII) are left alone.
"""

import itertools
import re

import schemathesis

_VALID = re.compile(r"^[!-~]([ -~]*[!-~])?$")
_counter = itertools.count()


@schemathesis.hook
def before_call(context, case, **kwargs):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() != "idempotency-key":
            continue
        key = headers[name]
        n = next(_counter)
        if not isinstance(key, str) or not _VALID.match(key) or len(key) > 255 or n % 8 == 7:
            continue
        suffix = f"-u{n}"
        headers[name] = (key[: 255 - len(suffix)] + suffix)
    case.headers = headers
