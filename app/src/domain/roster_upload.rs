//! The closed sets of a bulk roster upload, shared by the upload pages and
//! the backend that reads, stages and commits the file
//! (`ssr::standing::roster`): how an upload treats the members a file
//! leaves out, where it stands, the weight of a row's problem, the fields
//! a column can be mapped to and the text encoding the file was read in.

use crate::domain::closed_set::closed_set;

closed_set!(
    /// Whether members a file leaves out stay as they are or leave the
    /// roster (`roster_uploads.mode`).
    pub Mode {
        /// The whole membership: members missing from it become `not_listed`.
        Full = "full",
        /// Only the rows given change.
        Partial = "partial",
    }
);

impl Mode {
    /// In words, as the preview's heading says it.
    pub fn describe(self) -> &'static str {
        match self {
            Mode::Full => "full roster",
            Mode::Partial => "partial update",
        }
    }
}

closed_set!(
    /// Where an upload stands (`roster_uploads.state`): previewed until an
    /// admin commits or discards it; both are final.
    pub UploadState {
        Previewed = "previewed",
        Committed = "committed",
        Discarded = "discarded",
    }
);

closed_set!(
    /// How much a problem in a row weighs (`roster_upload_errors.severity`).
    pub Severity {
        /// Blocks the commit until mapped, fixed or skipped.
        Error = "error",
        /// Only says what was left empty or kept as given.
        Warning = "warning",
    }
);

closed_set!(
    /// The fields of the roster format a column can be mapped to
    /// (`roster_column_maps.field`).
    pub Field {
        BarNumber = "bar_number",
        FullName = "full_name",
        GivenName = "given_name",
        MiddleName = "middle_name",
        FamilyName = "family_name",
        NameSuffix = "name_suffix",
        Status = "status",
        Email = "email",
        AdmittedOn = "admitted_on",
        OfficePhone = "office_phone",
    }
);

closed_set!(
    /// The text encoding a roster file was read in
    /// (`roster_uploads.encoding`), shown on the preview.
    pub FileEncoding {
        Utf8 = "utf-8",
        /// UTF-8 with a byte-order mark (Excel's "CSV UTF-8").
        Utf8Bom = "utf-8-bom",
        /// UTF-16 little-endian with a byte-order mark (Excel's "Unicode Text").
        Utf16Le = "utf-16le",
        Utf16Be = "utf-16be",
        /// Excel's plain "CSV" on Windows: taken only when the file is not
        /// UTF-8 and every byte decodes to a printable character.
        Windows1252 = "windows-1252",
    }
);

impl FileEncoding {
    /// In words for the preview.
    pub fn describe(self) -> &'static str {
        match self {
            FileEncoding::Utf8 => "UTF-8",
            FileEncoding::Utf8Bom => "UTF-8 with a byte-order mark",
            FileEncoding::Utf16Le => "UTF-16 (little-endian, Excel's \"Unicode Text\")",
            FileEncoding::Utf16Be => "UTF-16 (big-endian)",
            FileEncoding::Windows1252 => {
                "Windows-1252 (Excel's \"CSV\" on Windows): the file is not UTF-8, so it was read \
                 as Windows-1252; check the accented names in the preview"
            }
        }
    }
}
