//! The roster's files: reading a bar's CSV as Excel and other systems
//! save it (`reading`), uploading it with progress, preview, brake and an
//! atomic commit (`upload`), and keeping the files committed for later
//! download (`kept_files`).

pub mod kept_files;
pub mod reading;
pub mod upload;
