//! The registry's change log's closed set, shared by the log
//! (`ssr::registry`), its feed and the pages.

use crate::domain::closed_set::closed_set;

closed_set!(
    /// Which way a number's privileged state flipped (`registry_changes.op`).
    pub Op {
        Add = "add",
        Remove = "remove",
    }
);

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::Op;

    #[test]
    fn an_unknown_op_is_an_error_never_a_remove() {
        assert_eq!(Op::from_db("remove"), Ok(Op::Remove));
        for unknown in ["Remove", "delete", ""] {
            assert!(Op::from_db(unknown).is_err(), "{unknown:?}");
            let json = serde_json::to_string(unknown).expect("json");
            assert!(serde_json::from_str::<Op>(&json).is_err(), "{unknown:?}");
        }
    }
}
