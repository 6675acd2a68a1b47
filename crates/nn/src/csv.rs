//! A labelled data set from CSV text: numeric feature columns, then an integer class label in
//! the last column, as [`read_csv`] reads it. Every fault is an error naming its 1-based line.
//! A UTF-8 byte-order mark at the start is skipped; a first line that mixes numbers and text
//! is an error rather than a guess (say which it is with [`read_csv_with`] and [`Header`]).
//!
//! ```
//! use ferrograd_nn::csv::read_csv;
//!
//! let data = read_csv::<f32>("x,y,label\n0.5,1,3\n-2,4e-1,7\n")?;
//! assert_eq!(data.features.shape(), &[2, 2]);
//! assert_eq!(data.labels.to_vec(), vec![0, 1]); // class indices of the sorted labels 3, 7
//! assert_eq!((data.feature_names, data.class_names), (vec!["x".to_string(), "y".into()], vec!["3".to_string(), "7".into()]));
//!
//! let err = read_csv::<f32>("x,y,label\n0.5,1,3\n-2,oops,7\n").unwrap_err();
//! assert_eq!(err.to_string(), "read_csv: line 3, column 2: \"oops\" is not a finite number");
//! # Ok::<(), ferrograd_tensor::Error>(())
//! ```

use std::fmt;

use ferrograd_tensor::{DType, Error, Float, IndexTensor, Result, Tensor};

/// The op name in [`Error`]s of [`read_csv`].
const OP: &str = "read_csv";

/// A data set read by [`read_csv`].
#[derive(Debug, Clone, PartialEq)]
pub struct CsvDataset<T: Float = f32> {
    /// `[rows, features]`.
    pub features: Tensor<T>,
    /// `[rows]`: the class of each row, an index into `class_names`.
    pub labels: IndexTensor,
    /// A name per feature column: the header's, or `feature 1`, `feature 2`, ...
    pub feature_names: Vec<String>,
    /// The label each class index stands for: the distinct labels of the file, in increasing order.
    pub class_names: Vec<String>,
}

/// Whether the first non-blank line of a CSV text is a header naming the columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Header {
    /// Decided from the line: a header if none of its fields is a number, a data row if all
    /// are. A line with both is [`CsvError::AmbiguousHeader`], never a silent guess: a data
    /// row with an empty or mistyped field is not swallowed as a header.
    #[default]
    Auto,
    /// The first line is a header, whatever it holds (`0,1,2,label` as pandas writes it).
    Present,
    /// Every line is a data row.
    Absent,
}

/// What is wrong with a CSV text, with the 1-based line (and column) where there is one.
/// [`read_csv`] returns it inside [`Error::Format`]; [`parse_csv`] returns it as it is, for
/// callers that match on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvError {
    /// No data rows at all.
    Empty,
    /// A row with a different number of columns than the first.
    Columns {
        /// The row's line.
        line: usize,
        /// The number of columns of the first line.
        expected: usize,
        /// The number of columns of this one.
        found: usize,
    },
    /// A feature that is not a finite number (of the element type read).
    Number {
        /// The row's line.
        line: usize,
        /// The feature's 1-based column.
        column: usize,
        /// The field as written.
        value: String,
    },
    /// A label that is not an integer.
    Label {
        /// The row's line.
        line: usize,
        /// The label as written.
        value: String,
    },
    /// Fewer than two columns: no feature, or no label.
    TooFewColumns {
        /// The line.
        line: usize,
        /// Its number of columns.
        found: usize,
    },
    /// Fewer than two distinct labels.
    OneClass {
        /// The one label.
        label: String,
    },
    /// A first line with [`Header::Auto`] that has both numbers and other fields, so it is
    /// neither clearly a header nor clearly a data row.
    AmbiguousHeader {
        /// The line.
        line: usize,
        /// The 1-based column of its first number.
        number_column: usize,
        /// That number as written.
        number: String,
        /// The 1-based column of its first field that is not a number.
        text_column: usize,
        /// That field as written.
        text: String,
    },
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::Empty => write!(f, "no data rows"),
            CsvError::Columns { line, expected, found } => {
                write!(f, "line {line}: expected {expected} columns, found {found}")
            }
            CsvError::Number { line, column, value } => {
                write!(f, "line {line}, column {column}: {value:?} is not a finite number")
            }
            CsvError::Label { line, value } => write!(
                f,
                "line {line}: label {value:?} is not an integer (the last column holds the class)"
            ),
            CsvError::TooFewColumns { line, found } => write!(
                f,
                "line {line}: {found} column(s); expected at least one feature column and a label column"
            ),
            CsvError::OneClass { label } => {
                write!(f, "every row has label {label}: a classifier needs at least 2 classes")
            }
            CsvError::AmbiguousHeader {
                line,
                number_column,
                number,
                text_column,
                text,
            } => write!(
                f,
                "line {line}: column {number_column} ({number:?}) is a number but column {text_column} \
                 ({text:?}) is not, so it is neither a header nor a data row; \
                 read it with Header::Present or Header::Absent to say which"
            ),
        }
    }
}

impl std::error::Error for CsvError {}

impl From<CsvError> for Error {
    fn from(e: CsvError) -> Self {
        Error::format(OP, e.to_string())
    }
}

/// Reads a classification data set from CSV text: numeric feature columns, then an integer
/// label in the last column (`3` or `3.0`). A UTF-8 byte-order mark at the start is skipped.
/// The first line is a header if none of its fields is a number, a data row if all are (see
/// [`Header::Auto`]; [`read_csv_with`] says which); blank lines are skipped; fields are
/// trimmed. Classes are the distinct labels in increasing order, and `labels` holds each
/// row's class index.
///
/// Every fault is an [`Error::Format`] naming the 1-based line (and column): a row with
/// another number of columns than the first, a feature that is not a finite `T`, a label that
/// is not an integer, fewer than two columns, a first line mixing numbers and text, no data
/// row, fewer than two classes.
pub fn read_csv<T: Float>(text: &str) -> Result<CsvDataset<T>> {
    Ok(parse_csv(text)?)
}

/// [`read_csv`] with the first line a header or not as `header` says.
pub fn read_csv_with<T: Float>(text: &str, header: Header) -> Result<CsvDataset<T>> {
    Ok(parse_csv_with(text, header)?)
}

/// [`read_csv`] with its error as the [`CsvError`] it is, to match on.
pub fn parse_csv<T: Float>(text: &str) -> std::result::Result<CsvDataset<T>, CsvError> {
    parse_csv_with(text, Header::Auto)
}

/// [`read_csv_with`] with its error as the [`CsvError`] it is, to match on.
pub fn parse_csv_with<T: Float>(text: &str, header_rule: Header) -> std::result::Result<CsvDataset<T>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut header: Option<Vec<String>> = None;
    let mut width = None;
    let mut features: Vec<T> = Vec::new();
    let mut raw_labels = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() < 2 {
            return Err(CsvError::TooFewColumns {
                line: line_no,
                found: fields.len(),
            });
        }
        if width.is_none() && is_header(line_no, &fields, header_rule)? {
            header = Some(fields.iter().map(|s| s.to_string()).collect());
            width = Some(fields.len());
            continue;
        }
        let expected = *width.get_or_insert(fields.len());
        if fields.len() != expected {
            return Err(CsvError::Columns {
                line: line_no,
                expected,
                found: fields.len(),
            });
        }
        let (label, values) = fields.split_last().expect("at least two fields");
        for (c, v) in values.iter().enumerate() {
            match parse_float::<T>(v) {
                Some(x) if x.is_finite() => features.push(x),
                _ => {
                    return Err(CsvError::Number {
                        line: line_no,
                        column: c + 1,
                        value: v.to_string(),
                    })
                }
            }
        }
        let Some(label) = parse_integer(label) else {
            return Err(CsvError::Label {
                line: line_no,
                value: label.to_string(),
            });
        };
        raw_labels.push(label);
    }
    let Some(width) = width else {
        return Err(CsvError::Empty);
    };
    if raw_labels.is_empty() {
        return Err(CsvError::Empty);
    }
    let mut classes = raw_labels.clone();
    classes.sort_unstable();
    classes.dedup();
    if classes.len() < 2 {
        return Err(CsvError::OneClass {
            label: classes[0].to_string(),
        });
    }
    let labels: Vec<i64> = raw_labels
        .iter()
        .map(|l| classes.binary_search(l).expect("a known class") as i64)
        .collect();
    let feature_names = match header {
        Some(h) => h[..width - 1].to_vec(),
        None => (1..width).map(|c| format!("feature {c}")).collect(),
    };
    let rows = labels.len();
    Ok(CsvDataset {
        features: Tensor::from_vec(features, &[rows, width - 1]).expect("every row has width - 1 features"),
        labels: IndexTensor::from_slice(&labels),
        feature_names,
        class_names: classes.iter().map(i64::to_string).collect(),
    })
}

/// Whether the first line, `fields`, is a header under `rule`.
fn is_header(line: usize, fields: &[&str], rule: Header) -> std::result::Result<bool, CsvError> {
    match rule {
        Header::Present => return Ok(true),
        Header::Absent => return Ok(false),
        Header::Auto => {}
    }
    let is_number = |f: &&str| f.parse::<f64>().is_ok();
    match (
        fields.iter().position(is_number),
        fields.iter().position(|f| !is_number(f)),
    ) {
        (Some(n), Some(t)) => Err(CsvError::AmbiguousHeader {
            line,
            number_column: n + 1,
            number: fields[n].to_string(),
            text_column: t + 1,
            text: fields[t].to_string(),
        }),
        (None, _) => Ok(true),
        (Some(_), None) => Ok(false),
    }
}

/// A number parsed directly as `T` (so an `f32` is rounded once, from the decimal text).
fn parse_float<T: Float>(s: &str) -> Option<T> {
    match T::DTYPE {
        DType::F32 => s.parse::<f32>().ok().map(|v| T::of(v as f64)),
        DType::F64 => s.parse::<f64>().ok().map(T::of),
    }
}

/// `3`, or `3.0` as written by tools that save every column as a float.
fn parse_integer(s: &str) -> Option<i64> {
    s.parse::<i64>().ok().or_else(|| {
        let x = s.parse::<f64>().ok()?;
        (x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15).then_some(x as i64)
    })
}
