//! The `sagepro` connector: Sage Pro ERP through its REST facade (`/api/customers`, `/api/invoices`,
//! `/api/payments`, `/api/journalentries`, ...). Plain dates, decimal amounts, no card data.
//! Operations and their input/output schemas are in `catalog.yaml` (published as
//! `schemas/connectors/sagepro.json`); flows call them as `sagepro.<operation>`.

pub mod ops;
