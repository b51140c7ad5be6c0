"""Made-up tables that drive each script's claims to each verdict.

One module per experiment script, named after it, with

    CASES = {claim index: {'supported': evidence, 'contradicted': evidence,
                           'regime': evidence (optional)}}

where each evidence is a claims.Evidence (claims.fabricate) or
claims.PartEvidence. tests/test_rules.py checks every claim of every script:
'supported' gives SUPPORTED, 'contradicted' gives CONTRADICTED (INCONCLUSIVE
for an existence claim, which cannot be contradicted), 'regime' (a table
where a precondition fails) gives INCONCLUSIVE with "regime not reached".
"""
