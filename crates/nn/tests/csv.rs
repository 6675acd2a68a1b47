//! The CSV reader's header and byte-order-mark rules (each test failed on the reader that
//! guessed a header from any non-number field and kept the mark in the first field).

use ferrograd_nn::csv::{parse_csv, parse_csv_with, read_csv, CsvError, Header};

#[test]
fn a_byte_order_mark_without_header_keeps_the_first_row() {
    // Saved by a spreadsheet as "CSV UTF-8": EF BB BF, then the data.
    let d = parse_csv::<f32>("\u{feff}1,2,0\n3,4,1\n").unwrap();
    assert_eq!(d.labels.to_vec(), vec![0, 1], "both rows are data");
    assert_eq!(d.features.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(d.feature_names, ["feature 1", "feature 2"]);
}

#[test]
fn a_byte_order_mark_before_a_header_is_not_part_of_its_first_name() {
    let d = parse_csv::<f32>("\u{feff}x,y,label\n1,2,0\n3,4,1\n").unwrap();
    assert_eq!(d.feature_names, ["x", "y"]);
    assert_eq!(d.labels.numel(), 2);
}

#[test]
fn a_first_row_of_numbers_with_an_empty_field_is_an_error_not_a_header() {
    // Before: taken silently as a header named ["1", "", "0"], and the row was lost.
    let err = parse_csv::<f32>("1,,0\n3,4,1\n5,6,0\n").unwrap_err();
    assert_eq!(
        err,
        CsvError::AmbiguousHeader {
            line: 1,
            number_column: 1,
            number: "1".into(),
            text_column: 2,
            text: "".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "line 1: column 1 (\"1\") is a number but column 2 (\"\") is not, so it is neither a header \
         nor a data row; read it with Header::Present or Header::Absent to say which"
    );
}

#[test]
fn a_first_row_with_a_mistyped_number_is_an_error_naming_line_and_column() {
    let err = read_csv::<f64>("\n1.5,2.0.1,0\n3,4,1\n").unwrap_err().to_string();
    assert!(
        err.starts_with("read_csv: line 2: column 1 (\"1.5\") is a number but column 2 (\"2.0.1\")"),
        "{err}"
    );
}

#[test]
fn a_header_of_numbers_is_read_when_said_so() {
    // pandas writes a NumPy array's columns as 0, 1, ...
    let text = "0,1,label\n0.5,1,3\n-2,4,7\n";
    assert!(matches!(
        parse_csv::<f32>(text),
        Err(CsvError::AmbiguousHeader { line: 1, .. })
    ));
    let d = parse_csv_with::<f32>(text, Header::Present).unwrap();
    assert_eq!(d.feature_names, ["0", "1"]);
    assert_eq!(d.labels.numel(), 2);
    let d = parse_csv_with::<f32>("1,2,0\n3,4,1\n", Header::Present).unwrap_err();
    assert_eq!(d, CsvError::OneClass { label: "1".into() }, "only line 2 is data");
}

#[test]
fn without_a_header_a_text_first_line_is_a_data_error() {
    let err = parse_csv_with::<f32>("x,y,label\n1,2,0\n", Header::Absent).unwrap_err();
    assert_eq!(
        err,
        CsvError::Number {
            line: 1,
            column: 1,
            value: "x".into()
        }
    );
    let d = parse_csv_with::<f32>("\u{feff}1,2,0\n3,4,1\n", Header::Absent).unwrap();
    assert_eq!(d.labels.numel(), 2);
}

#[test]
fn auto_reads_a_text_header_and_a_numeric_first_row_as_before() {
    let d = parse_csv::<f32>("x,y,label\n1,2,0\n3,4,1\n").unwrap();
    assert_eq!((d.feature_names.len(), d.labels.numel()), (2, 2));
    let d = parse_csv::<f32>("1,2,0\n3,4,1\n").unwrap();
    assert_eq!(d.labels.numel(), 2);
}
