//! LL001 yaml-syntax: the file is not readable YAML (syntax, tabs, binary, too large, too deep,
//! several documents). Reported by the lint driver, which cannot go further with this file.

use super::{Rule, rule_code};

rule_code!(
    "LL001",
    "yaml-syntax",
    "the file is not a readable single YAML document"
);

impl Rule for Check {
    fn code(&self) -> crate::diag::Code {
        CODE
    }
}
