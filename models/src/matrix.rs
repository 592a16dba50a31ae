//! A flat, row-major matrix of feature rows: one allocation for a whole
//! table instead of one per row, so that featurising, training and batch
//! prediction walk memory in order.

/// Rows of equal width stored back to back (row `i` is
/// `data[i * width..(i + 1) * width]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matrix {
    width: usize,
    rows: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// An empty matrix of rows `width` wide.
    pub fn new(width: usize) -> Self {
        Self { width, rows: 0, data: Vec::new() }
    }

    /// An empty matrix with room for `rows` rows.
    pub fn with_capacity(width: usize, rows: usize) -> Self {
        Self { width, rows: 0, data: Vec::with_capacity(width * rows) }
    }

    /// `rows` rows of NaN.
    pub fn nan(width: usize, rows: usize) -> Self {
        Self { width, rows, data: vec![f64::NAN; width * rows] }
    }

    /// A copy of `rows`, which must all be as wide as the first (an empty
    /// slice gives an empty matrix of width 0).
    pub fn from_rows(rows: &[Vec<f64>]) -> Self {
        let width = rows.first().map_or(0, Vec::len);
        let mut m = Self::with_capacity(width, rows.len());
        for r in rows {
            m.push_row(r);
        }
        m
    }

    /// The rows `idx` of `self`, in that order.
    pub fn select(&self, idx: &[usize]) -> Self {
        let mut m = Self::with_capacity(self.width, idx.len());
        for &i in idx {
            m.push_row(self.row(i));
        }
        m
    }

    /// The first `n` rows (all when there are fewer).
    pub fn head(&self, n: usize) -> Self {
        let n = n.min(self.rows);
        Self { width: self.width, rows: n, data: self.data[..n * self.width].to_vec() }
    }

    /// The rows from `start` on.
    pub fn tail(&self, start: usize) -> Self {
        let start = start.min(self.rows);
        Self { width: self.width, rows: self.rows - start, data: self.data[start * self.width..].to_vec() }
    }

    /// Appends a row; it must be `width` wide.
    pub fn push_row(&mut self, row: &[f64]) {
        assert_eq!(row.len(), self.width, "a row of the wrong width");
        self.data.extend_from_slice(row);
        self.rows += 1;
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when there is no row.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.width..(i + 1) * self.width]
    }

    /// Row `i`, to write.
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.width..(i + 1) * self.width]
    }

    /// The value at row `i`, column `f`.
    pub fn get(&self, i: usize, f: usize) -> f64 {
        self.data[i * self.width + f]
    }

    /// The rows in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f64]> + '_ {
        (0..self.rows).map(move |i| self.row(i))
    }

    /// All values, row after row.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// One `Vec` per row (the older interface).
    pub fn to_rows(&self) -> Vec<Vec<f64>> {
        self.rows().map(<[f64]>::to_vec).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_select() {
        let rows = vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]];
        let m = Matrix::from_rows(&rows);
        assert_eq!((m.len(), m.width()), (3, 2));
        assert_eq!(m.to_rows(), rows);
        assert_eq!(m.select(&[2, 0]).to_rows(), vec![rows[2].clone(), rows[0].clone()]);
        assert_eq!(m.head(1).to_rows(), vec![rows[0].clone()]);
        assert_eq!(m.tail(2).to_rows(), vec![rows[2].clone()]);
        assert_eq!(m.get(1, 1), 4.0);
        let empty = Matrix::from_rows(&[]);
        assert!(empty.is_empty() && empty.rows().next().is_none());
    }
}
