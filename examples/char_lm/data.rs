//! The words, their vocabulary and the `(x, y)` examples of the reference setup.
//!
//! Index 0 is the start/stop token; the distinct characters, sorted, are 1, 2, .... A word
//! `w1..wn` becomes `x = [0, w1..wn, 0...]` and `y = [w1..wn, 0, -1...]`, both `block_size`
//! long (the longest word + 1); the `-1` positions are left out of the loss.

use std::collections::{HashMap, HashSet};

use ferrograd::tensor::IndexTensor;
use rand::seq::SliceRandom;
use rand::Rng;

/// The target value of positions past a word's end: left out of the loss.
pub const IGNORE: i64 = -1;

/// The characters of the words, index 0 being the start/stop token.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocab {
    /// The distinct characters, sorted; character `chars[i]` has index `i + 1`.
    pub chars: Vec<char>,
}

impl Vocab {
    /// The vocabulary of `words`.
    pub fn of(words: &[String]) -> Self {
        let set: HashSet<char> = words.iter().flat_map(|w| w.chars()).collect();
        let mut chars: Vec<char> = set.into_iter().collect();
        chars.sort_unstable();
        Vocab { chars }
    }

    /// The number of tokens: the characters and the start/stop token.
    pub fn size(&self) -> usize {
        self.chars.len() + 1
    }

    /// The index of `c` (characters outside the vocabulary are `None`).
    pub fn encode_char(&self, c: char) -> Option<i64> {
        self.chars.binary_search(&c).ok().map(|i| i as i64 + 1)
    }

    /// The word of the indices up to the first start/stop token.
    pub fn decode(&self, indices: &[i64]) -> String {
        indices
            .iter()
            .take_while(|&&i| i != 0)
            .filter_map(|&i| self.chars.get((i - 1) as usize))
            .collect()
    }
}

/// Reads one word per line: surrounding whitespace trimmed, empty lines skipped. A missing
/// file, a non-UTF-8 byte or a file without words is an error naming the file (and line).
pub fn read_words(path: &str) -> Result<Vec<String>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    parse_words(&bytes).map_err(|e| format!("{path}: {e}"))
}

/// The words of `bytes`, as [`read_words`].
pub fn parse_words(bytes: &[u8]) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = std::str::from_utf8(line).map_err(|e| {
            format!(
                "line {}: not valid UTF-8 (byte {} of the line cannot start or continue a character)",
                i + 1,
                e.valid_up_to() + 1
            )
        })?;
        let word = line.trim();
        if !word.is_empty() {
            words.push(word.to_string());
        }
    }
    if words.is_empty() {
        return Err("no words: the file is empty or holds only blank lines".into());
    }
    Ok(words)
}

/// The size of the test set: `min(1000, 10% of the words)`.
pub fn test_size(n_words: usize) -> usize {
    1000.min(n_words / 10)
}

/// Splits the words by a seeded permutation: the last [`test_size`] of them are the test
/// set, the rest train. Fewer than 10 words leave no test set, which is an error.
pub fn split<R: Rng + ?Sized>(words: &[String], rng: &mut R) -> Result<(Vec<String>, Vec<String>), String> {
    let n_test = test_size(words.len());
    if n_test == 0 {
        return Err(format!(
            "only {} word(s): at least 10 are needed to hold out a test set of 10%",
            words.len()
        ));
    }
    let mut order: Vec<usize> = (0..words.len()).collect();
    order.shuffle(rng);
    let pick = |ix: &[usize]| ix.iter().map(|&i| words[i].clone()).collect::<Vec<_>>();
    let cut = words.len() - n_test;
    Ok((pick(&order[..cut]), pick(&order[cut..])))
}

/// Splits the words by the same seeded permutation as [`split`], holding out `test` instead
/// of the permutation's last words: one occurrence of each listed word (in the permutation's
/// order), the rest train, as `benches/char_lm_pytorch.py --test-words` does. A listed word
/// the input does not hold (once more than listed) is an error naming it.
pub fn split_given<R: Rng + ?Sized>(
    words: &[String],
    test: Vec<String>,
    rng: &mut R,
) -> Result<(Vec<String>, Vec<String>), String> {
    if test.is_empty() {
        return Err("no test words: the list is empty".into());
    }
    let mut order: Vec<usize> = (0..words.len()).collect();
    order.shuffle(rng);
    let mut remaining: HashMap<&str, usize> = HashMap::new();
    for w in &test {
        *remaining.entry(w.as_str()).or_default() += 1;
    }
    let mut train = Vec::with_capacity(words.len().saturating_sub(test.len()));
    for &i in &order {
        match remaining.get_mut(words[i].as_str()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => train.push(words[i].clone()),
        }
    }
    if let Some((w, n)) = remaining.iter().find(|(_, &n)| n > 0) {
        return Err(format!(
            "test word {w:?} is listed {n} more time(s) than the input holds it"
        ));
    }
    if train.is_empty() {
        return Err(format!(
            "all {} words are test words: none is left to train on",
            words.len()
        ));
    }
    Ok((train, test))
}

/// The encoded words of one split, all padded to `block_size`.
#[derive(Debug, Clone)]
pub struct CharDataset {
    /// The words, for telling samples seen in training from new ones.
    pub words: Vec<String>,
    /// `x` of every word, `block_size` each, concatenated.
    x: Vec<i64>,
    /// `y` of every word, `block_size` each, concatenated.
    y: Vec<i64>,
    /// The length of every example.
    pub block_size: usize,
}

impl CharDataset {
    /// Encodes `words` with `vocab` into examples of `block_size` positions. A character
    /// outside the vocabulary or a word longer than `block_size - 1` is an error.
    pub fn new(words: Vec<String>, vocab: &Vocab, block_size: usize) -> Result<Self, String> {
        let mut x = vec![0i64; words.len() * block_size];
        let mut y = vec![IGNORE; words.len() * block_size];
        for (k, word) in words.iter().enumerate() {
            let ix: Vec<i64> = word
                .chars()
                .map(|c| {
                    vocab
                        .encode_char(c)
                        .ok_or_else(|| format!("{word:?}: {c:?} is not in the vocabulary"))
                })
                .collect::<Result<_, _>>()?;
            if ix.len() + 1 > block_size {
                return Err(format!(
                    "{word:?} has {} characters; the model takes at most {}",
                    ix.len(),
                    block_size - 1
                ));
            }
            let (xr, yr) = (
                &mut x[k * block_size..][..block_size],
                &mut y[k * block_size..][..block_size],
            );
            xr[1..=ix.len()].copy_from_slice(&ix);
            yr[..ix.len()].copy_from_slice(&ix);
            yr[ix.len()] = 0;
        }
        Ok(CharDataset {
            words,
            x,
            y,
            block_size,
        })
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// The examples at `rows`, as `x` and `y` of shape `[rows, block_size]`.
    pub fn batch(&self, rows: &[usize]) -> (IndexTensor, IndexTensor) {
        let t = self.block_size;
        let gather = |v: &[i64]| {
            rows.iter()
                .flat_map(|&r| v[r * t..][..t].iter().copied())
                .collect::<Vec<_>>()
        };
        let shape = [rows.len(), t];
        (
            IndexTensor::from_vec(gather(&self.x), &shape).expect("rows × block_size values"),
            IndexTensor::from_vec(gather(&self.y), &shape).expect("rows × block_size values"),
        )
    }

    /// `batch_size` examples drawn uniformly with replacement.
    pub fn sample_batch<R: Rng + ?Sized>(&self, batch_size: usize, rng: &mut R) -> (IndexTensor, IndexTensor) {
        let rows: Vec<usize> = (0..batch_size).map(|_| rng.random_range(0..self.len())).collect();
        self.batch(&rows)
    }
}

/// Whether a generated word is a training word, a test word, or new.
pub fn provenance(word: &str, train: &HashSet<&str>, test: &HashSet<&str>) -> &'static str {
    if train.contains(word) {
        "in train"
    } else if test.contains(word) {
        "in test"
    } else {
        "new"
    }
}
