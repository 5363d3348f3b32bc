//! CSV data files: the round trip, what is accepted, and the message for each kind of bad line.

use std::path::{Path, PathBuf};

use chainrule::data::{self, DataError, LineError};

/// A fresh directory for one test's files (tests run in parallel: each gets its own), removed
/// when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

fn scratch(test: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("chainrule-data-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// Writes `text` to `points.csv` in the test's directory and reads it back as a data set (the
/// directory is gone afterwards; the path is returned for messages).
fn read(test: &str, text: &str) -> (PathBuf, Result<data::Dataset, DataError>) {
    let dir = scratch(test);
    let path = dir.join("points.csv");
    std::fs::write(&path, text).unwrap();
    let result = data::from_csv(&path);
    (path, result)
}

#[test]
fn a_data_set_written_and_read_back_is_the_same_to_the_bit() {
    let dir = scratch("round-trip");
    for (name, original) in [
        ("linear", data::linear(50, 3)),
        ("xor_easy", data::xor_easy()),
        ("circle", data::circle(30, 9)),
    ] {
        let path = dir.join(format!("{name}.csv"));
        original.to_csv(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("x0,x1,label\n"), "{name}: {text}");
        assert_eq!(text.lines().count(), original.len() + 1, "{name}");
        let back = data::from_csv(&path).unwrap();
        assert_eq!(back, original, "{name}");
    }
}

#[test]
fn header_blank_lines_spaces_and_decimal_labels_are_accepted() {
    let text = "\u{feff}\n x0 , x1 , label \n0.1, 0.9 ,1\n\n  \n-0.5,\t2e-1,0.0\n0,0,1.0\n\n";
    let (_, result) = read("lenient", text);
    let d = result.unwrap();
    assert_eq!(d.x.as_slice(), &[0.1, 0.9, -0.5, 0.2, 0.0, 0.0]);
    assert_eq!(d.y.as_slice(), &[1.0, 0.0, 1.0]);
    assert_eq!((d.x.shape(), d.y.shape()), ((3, 2), (3, 1)));
}

#[test]
fn a_file_without_header_starts_with_data() {
    let (_, result) = read("no-header", "0.25,0.5,0\n0.75,0.5,1\n");
    let d = result.unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d.x.row(0), &[0.25, 0.5]);
}

/// The error for a file whose only bad line is `bad`, at line 3 after a header and a good row.
fn bad_line(test: &str, bad: &str) -> (String, LineError) {
    let (path, result) = read(test, &format!("x0,x1,label\n0.1,0.2,1\n{bad}\n0.3,0.4,0\n"));
    match result {
        Err(DataError::Line {
            path: p,
            line,
            problem,
        }) => {
            assert_eq!((p, line), (path.clone(), 3));
            let message = format!("{}, line 3: {problem}", path.display());
            let shown = DataError::Line {
                path,
                line,
                problem: problem.clone(),
            };
            assert_eq!(shown.to_string(), message);
            (message, problem)
        }
        other => panic!("{bad:?}: expected a line error, got {other:?}"),
    }
}

#[test]
fn each_kind_of_bad_line_is_named_with_file_and_line() {
    let (message, problem) = bad_line("count", "0.1,0.2");
    assert_eq!(problem, LineError::FieldCount { found: 2 });
    assert!(message.ends_with("points.csv, line 3: expected 3 fields `x0,x1,label`, found 2"));

    let (_, problem) = bad_line("count4", "0.1,0.2,1,7");
    assert_eq!(problem, LineError::FieldCount { found: 4 });

    let (message, problem) = bad_line("number", "0.1, abc ,1");
    assert_eq!(
        problem,
        LineError::NotANumber {
            field: 2,
            text: "abc".into()
        }
    );
    assert!(message.ends_with("line 3: field 2 (x1) `abc` is not a number"));

    let (message, problem) = bad_line("empty-field", ",0.2,1");
    assert_eq!(
        problem,
        LineError::NotANumber {
            field: 1,
            text: "".into()
        }
    );
    assert!(message.ends_with("line 3: field 1 (x0) `` is not a number"));

    let (message, problem) = bad_line("finite", "NaN,0.2,1");
    assert_eq!(
        problem,
        LineError::NotFinite {
            field: 1,
            text: "NaN".into()
        }
    );
    assert!(message.ends_with("line 3: field 1 (x0) `NaN` is not a finite number"));
    let (_, problem) = bad_line("infinite", "0.1,-inf,0");
    assert!(matches!(problem, LineError::NotFinite { field: 2, .. }));

    let (message, problem) = bad_line("label", "0.1,0.2,2");
    assert_eq!(problem, LineError::BadLabel { text: "2".into() });
    assert!(message.ends_with("line 3: field 3 (label) `2` must be 0 or 1"));
    for label in ["0.5", "-1", "1.0001"] {
        let (_, problem) = bad_line("labels", &format!("0.1,0.2,{label}"));
        assert_eq!(problem, LineError::BadLabel { text: label.into() });
    }
    let (_, problem) = bad_line("label-text", "0.1,0.2,yes");
    assert!(matches!(problem, LineError::NotANumber { field: 3, .. }));
}

#[test]
fn line_numbers_count_blank_lines() {
    let (_, result) = read("numbering", "\n\n0.1,0.2,1\n\n0.3,x,0\n");
    match result {
        Err(DataError::Line { line, .. }) => assert_eq!(line, 5),
        other => panic!("expected a line error, got {other:?}"),
    }
}

#[test]
fn a_header_is_only_allowed_first() {
    let (_, result) = read("late-header", "0.1,0.2,1\nx0,x1,label\n");
    let err = result.unwrap_err();
    assert!(
        err.to_string()
            .ends_with("line 2: field 1 (x0) `x0` is not a number"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let dir = scratch("missing");
    let path = dir.join("no-such-file.csv");
    let err = data::from_csv(&path).unwrap_err();
    assert!(
        matches!(err, DataError::Io { writing: false, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("cannot read {}: ", path.display())),
        "{message}"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn a_file_with_no_rows_is_an_error() {
    for text in ["", "\n\n", "x0,x1,label\n"] {
        let (path, result) = read("empty", text);
        let err = result.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: no data rows (expected lines `x0,x1,label`)",
                path.display()
            ),
            "{text:?}"
        );
    }
}

#[test]
fn writing_into_a_missing_directory_is_an_error_naming_it() {
    let dir = scratch("unwritable");
    let path = dir.join("no-such-dir").join("out.csv");
    let err = data::xor4().to_csv(&path).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("cannot write {}: ", path.display())),
        "{err}"
    );
}

// ---- the multi-class spiral and one-hot targets ---------------------------------------------

#[test]
fn spiral_has_its_arms_in_order_each_on_its_own_angle() {
    let (n, k) = (50, 3);
    let set = data::spiral(n, k, 7);
    assert_eq!((set.x.shape(), set.y.shape()), ((n * k, 2), (n * k, 1)));
    assert_eq!(set.classes(), k);
    for class in 0..k {
        for i in 0..n {
            let row = class * n + i;
            assert_eq!(set.y[(row, 0)], class as f64, "row {row}");
            let (x0, x1) = (set.x[(row, 0)], set.x[(row, 1)]);
            // Radius i/(n − 1), exactly up to rounding: the noise moves only the angle.
            let r = i as f64 / (n - 1) as f64;
            assert!(((x0 * x0 + x1 * x1).sqrt() - r).abs() < 1e-12, "row {row}");
            // Angle 4·class + 4r + 0.2·noise: within 1 radian (5 standard deviations) of the
            // arm's centre line, where the radius is large enough to tell.
            if r > 0.1 {
                let t = x0.atan2(x1);
                let centre = 4.0 * class as f64 + 4.0 * r;
                let off = (t - centre).rem_euclid(std::f64::consts::TAU);
                let off = off.min(std::f64::consts::TAU - off);
                assert!(off < 1.0, "row {row}: {off} rad off its arm");
            }
        }
    }
}

#[test]
fn spiral_is_seeded() {
    assert_eq!(data::spiral(20, 4, 3), data::spiral(20, 4, 3));
    assert_ne!(data::spiral(20, 4, 3), data::spiral(20, 4, 4));
}

#[test]
fn one_hot_puts_a_1_in_each_labels_column_and_refuses_a_bad_label() {
    let set = data::spiral(4, 3, 1);
    let targets = data::one_hot(&set.y, 3);
    assert_eq!(targets.shape(), (12, 3));
    for row in 0..12 {
        let expected: Vec<f64> = (0..3)
            .map(|c| f64::from(c as f64 == set.y[(row, 0)]))
            .collect();
        assert_eq!(targets.row(row), &expected[..], "row {row}");
    }
    let bad = chainrule::Matrix::from_rows(&[[0.0], [3.0]]);
    let message =
        std::panic::catch_unwind(|| data::one_hot(&bad, 3)).expect_err("3 is not a class of 3");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert_eq!(message, "one_hot: row 1 has label 3, not a class in 0..3");
}
