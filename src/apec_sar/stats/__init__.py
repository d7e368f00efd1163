"""Statistics with explicit methods (SAR_SPEC 6): Kaplan-Meier, exact binomial CIs, Cox
models, rounding. Every estimate is checked against R in the tests."""
