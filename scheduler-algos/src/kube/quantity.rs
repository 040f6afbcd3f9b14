//! Exact port of the parsing half of `k8s.io/apimachinery/pkg/api/resource`
//! (v0.33.3; `quantity.go`, `suffix.go`, `amount.go`, `math.go`, `scale_int.go`),
//! plus the integer conversions the kube-scheduler uses:
//!
//! * `milli_value()` = upstream `MilliValue()` = `ScaledValue(Milli)` = ceil(q * 1000) (cpu);
//! * `value()`       = upstream `Value()`      = `ScaledValue(0)`     = ceil(q)        (memory,
//!   ephemeral-storage, pods, extended resources).
//!
//! std only, no external crates.
//!
//! # Representation
//!
//! A quantity is held exactly as `±digits × 10^exp`, where `digits` is an arbitrary-length
//! decimal mantissa (no leading or trailing zeros; empty means zero). Binary suffixes are
//! multiplied out at parse time (`1.5Gi` = 15 × 2^30 × 10^-1 = 1610612736 exactly). This is
//! the mathematical value of upstream's `int64Amount` / `inf.Dec` after parsing.
//!
//! # Parse semantics reproduced from upstream (`ParseQuantity`)
//!
//! * Scanner `parseQuantityString`: optional sign, leading zeros stripped, integer digits,
//!   optional `.` and fraction digits (`.5`, `5.`, `1.G` accepted), then suffix made of
//!   `[eEinumkKMGTP]*` followed by an optional sign and digits. Anything else is
//!   [`QuantityError::FormatWrong`]. Whitespace is never accepted.
//! * Suffixes: DecimalSI `n u m "" k M G T P E`, BinarySI `Ki Mi Gi Ti Pi Ei`,
//!   DecimalExponent `e<int64>` / `E<int64>` (length > 1; bare `E` is exa). Unknown
//!   suffix, or an exponent that is not a valid int64, is [`QuantityError::Suffix`]. As in
//!   Go, the int64 exponent is truncated to int32 (`int32(parsed)`), and the int32 scale
//!   arithmetic wraps exactly like Go's.
//! * The number part may be empty: `"+"`, `"-"`, `"."`, `"m"`, `"Ki"` all parse as zero, as
//!   upstream. When upstream has to take its `inf.Dec` slow path with a number part that
//!   holds no digit at all (`"e-10"`, `"Pi"`, `"Ei"`, `".e-12"`), `inf.Dec.SetString` fails and
//!   the error is [`QuantityError::Numeric`].
//! * Any non-zero value finer than 1e-9 is rounded away from zero to a whole nano
//!   (`amount.Round(amount, 9, inf.RoundUp)`).
//! * BinarySI values whose magnitude exceeds `i64::MAX` are silently capped to `i64::MAX`
//!   (`"8Ei"` parses as 9223372036854775807). A BinarySI value in (0, 1) switches to DecimalSI.
//!
//! # Integer conversion
//!
//! For non-negative values both paths upstream (`negativeScaleInt64` for `int64Amount`,
//! `scaledValue` for `inf.Dec`) compute the exact ceiling, which is what is done here.
//! Deliberate differences, at the edges where upstream's result is undefined:
//!
//! * upstream returns an `int64` and silently overflows (or returns 0) when the result does
//!   not fit; here the result is `None` when it does not fit in a `u64`. A result in
//!   `(i64::MAX, u64::MAX]` is returned exactly here although upstream would wrap.
//!   Callers that must mirror the scheduler's int64 arithmetic should treat
//!   `> i64::MAX as u64` as overflow themselves.
//! * negative values give `None` (upstream rounds them inconsistently between its two
//!   internal representations; callers reject negatives anyway).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The regular expression quoted in upstream's `ErrFormatWrong` message.
pub const SPLIT_RE_STRING: &str = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

/// Nano scale: values are kept to at most 9 fractional digits.
const NANO: i64 = -9;

/// Upper bound on the number of zero digits [`Quantity::checked_add`] will append when it
/// aligns two exponents. Beyond this it returns `None` instead of allocating.
const MAX_ALIGN_DIGITS: i64 = 1 << 20;

/// Errors returned by [`parse_quantity`], mirroring upstream's three error values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuantityError {
    /// `ErrFormatWrong` (also returned for the empty string).
    FormatWrong,
    /// `ErrNumeric`.
    Numeric,
    /// `ErrSuffix`.
    Suffix,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantityError::FormatWrong => write!(
                f,
                "quantities must match the regular expression '{SPLIT_RE_STRING}'"
            ),
            QuantityError::Numeric => f.write_str("unable to parse numeric part of quantity"),
            QuantityError::Suffix => f.write_str("unable to parse quantity's suffix"),
        }
    }
}

impl std::error::Error for QuantityError {}

/// The suffix family a quantity was written with (upstream `Format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// e.g. `12e6`
    DecimalExponent,
    /// e.g. `12Mi` (12 × 2^20)
    BinarySI,
    /// e.g. `12M` (12 × 10^6)
    DecimalSI,
}

/// An exactly represented Kubernetes quantity.
///
/// Equality (`==`) compares numeric values only, like upstream `Quantity.Equal`/`Cmp`; the
/// format is ignored.
#[derive(Clone, Debug)]
pub struct Quantity {
    negative: bool,
    /// Decimal digits (0..=9) of |value|, most significant first; no leading or trailing
    /// zeros; empty means zero.
    digits: Vec<u8>,
    /// |value| = digits × 10^exp (0 when the value is zero).
    exp: i64,
    format: Format,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.negative == other.negative && self.exp == other.exp && self.digits == other.digits
    }
}

impl Eq for Quantity {}

impl FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_quantity(s)
    }
}

impl Quantity {
    fn new(negative: bool, mut digits: Vec<u8>, mut exp: i64, format: Format) -> Quantity {
        normalize(&mut digits, &mut exp);
        Quantity {
            negative: negative && !digits.is_empty(),
            digits,
            exp,
            format,
        }
    }

    fn zero(format: Format) -> Quantity {
        Quantity {
            negative: false,
            digits: Vec::new(),
            exp: 0,
            format,
        }
    }

    /// True when the value is strictly negative (`-0` is not negative).
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// True when the value is zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// The format upstream would remember for this quantity.
    pub fn format(&self) -> Format {
        self.format
    }

    /// ceil(q × 1000), upstream `MilliValue()`. `None` if negative or larger than `u64::MAX`.
    pub fn milli_value(&self) -> Option<u64> {
        self.scaled_value(-3)
    }

    /// ceil(q), upstream `Value()`. `None` if negative or larger than `u64::MAX`.
    pub fn value(&self) -> Option<u64> {
        self.scaled_value(0)
    }

    /// ceil(q / 10^scale), upstream `ScaledValue(scale)` (e.g. `scale = -3` is milli).
    /// `None` if negative or larger than `u64::MAX`.
    pub fn scaled_value(&self, scale: i32) -> Option<u64> {
        if self.negative {
            return None;
        }
        if self.digits.is_empty() {
            return Some(0);
        }
        let shift = self.exp - i64::from(scale);
        let len = self.digits.len() as i64;
        if shift >= 0 {
            // u64::MAX has 20 digits; the mantissa has no leading zero.
            if len + shift > 20 {
                return None;
            }
            let mut v = digits_to_u64(&self.digits)?;
            for _ in 0..shift {
                v = v.checked_mul(10)?;
            }
            Some(v)
        } else {
            // Integer part = the first `len + shift` digits; the dropped part is non-zero
            // because the mantissa has no trailing zero, so the ceiling adds one.
            let keep = len + shift;
            let int_part = if keep <= 0 {
                0
            } else if keep > 20 {
                return None;
            } else {
                digits_to_u64(&self.digits[..keep as usize])?
            };
            int_part.checked_add(1)
        }
    }

    /// Exact sum, like upstream `Quantity.Add` (the format is `self`'s unless `self` is zero,
    /// in which case it is `other`'s). `None` only if aligning the two exponents would need
    /// more than 2^20 extra digits.
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        let format = if self.is_zero() {
            other.format
        } else {
            self.format
        };
        if other.is_zero() {
            let mut r = self.clone();
            r.format = format;
            return Some(r);
        }
        if self.is_zero() {
            let mut r = other.clone();
            r.format = format;
            return Some(r);
        }
        let exp = self.exp.min(other.exp);
        let a = pad_zeros(&self.digits, self.exp - exp)?;
        let b = pad_zeros(&other.digits, other.exp - exp)?;
        let (negative, digits) = if self.negative == other.negative {
            (self.negative, add_mag(&a, &b))
        } else {
            match cmp_mag(&a, &b) {
                Ordering::Equal => (false, Vec::new()),
                Ordering::Greater => (self.negative, sub_mag(&a, &b)),
                Ordering::Less => (other.negative, sub_mag(&b, &a)),
            }
        };
        Some(Quantity::new(negative, digits, exp, format))
    }

    /// Compares numeric values (upstream `Quantity.Cmp`).
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => cmp_abs(&self.digits, self.exp, &other.digits, other.exp),
            (true, true) => cmp_abs(&other.digits, other.exp, &self.digits, self.exp),
        }
    }
}

/// Parses a quantity string exactly as upstream `resource.ParseQuantity` (v0.33.3).
pub fn parse_quantity(s: &str) -> Result<Quantity, QuantityError> {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return Err(QuantityError::FormatWrong);
    }
    if bytes == b"0" {
        return Ok(Quantity::zero(Format::DecimalSI));
    }

    let parts = parse_quantity_string(bytes)?;
    let (base, exponent, format) = interpret_suffix(parts.suffix).ok_or(QuantityError::Suffix)?;

    // Fast int64 path (`precision >= 0` and `scale >= Nano` upstream).
    let mut scale: i32 = 0;
    let mut mantissa: i64 = 1;
    let precision: i64 = match format {
        Format::DecimalExponent | Format::DecimalSI => {
            scale = exponent;
            18 - (parts.num.len() + parts.denom.len()) as i64
        }
        Format::BinarySI => {
            if exponent >= 0 && parts.denom.is_empty() {
                mantissa <<= exponent as u32;
                // int32(float32(exponent)*3/10) is exact for the binary exponents 10..=60.
                15 - parts.num.len() as i64 - i64::from(exponent) * 3 / 10 - 1
            } else {
                -1
            }
        }
    };
    if precision >= 0 {
        scale = scale.wrapping_sub(parts.denom.len() as i32);
        if scale >= NANO as i32 {
            // num + denom has at most 18 digits, so it always fits an int64.
            let value = digits_to_u64(
                &ascii_digits(parts.num)
                    .chain(ascii_digits(parts.denom))
                    .collect::<Vec<_>>(),
            )
            .expect("at most 18 digits") as i64;
            if let Some(result) = value.checked_mul(mantissa) {
                let mut digits = Vec::new();
                push_u64_digits(&mut digits, result as u64);
                return Ok(Quantity::new(
                    !parts.positive,
                    digits,
                    i64::from(scale),
                    format,
                ));
            }
        }
    }

    // Slow inf.Dec path: `amount.SetString(value)`.
    let (mut digits, dec_scale) = inf_dec_set_string(parts.value).ok_or(QuantityError::Numeric)?;
    let mut exp: i64 = if base == 10 {
        // amount.SetScale(amount.Scale() + Scale(exponent).infScale()), all int32 wrapping.
        -i64::from(dec_scale.wrapping_add(exponent.wrapping_neg()))
    } else {
        // numericSuffix = 2^exponent, multiplied into the unscaled value.
        mul_pow2(&mut digits, exponent as u32);
        -i64::from(dec_scale)
    };
    normalize(&mut digits, &mut exp);
    let negative = !parts.positive;

    // Round non-zero values up (away from zero) to a whole nano.
    if !digits.is_empty() && exp < NANO {
        let drop = (NANO - exp) as u64;
        if drop >= digits.len() as u64 {
            digits = vec![1];
        } else {
            digits.truncate(digits.len() - drop as usize);
            // The dropped digits are non-zero (no trailing zeros), so round up.
            increment(&mut digits);
        }
        exp = NANO;
        normalize(&mut digits, &mut exp);
    }

    let mut format = format;
    if format == Format::BinarySI {
        let mut max_digits = Vec::new();
        push_u64_digits(&mut max_digits, i64::MAX as u64);
        if cmp_abs(&digits, exp, &max_digits, 0) == Ordering::Greater {
            digits = max_digits;
            exp = 0;
        }
        // 0 < |amount| < 1: switch to DecimalSI.
        if !digits.is_empty() && digits.len() as i64 + exp <= 0 {
            format = Format::DecimalSI;
        }
    }

    Ok(Quantity::new(negative, digits, exp, format))
}

/// The pieces upstream's `parseQuantityString` returns.
struct Parts<'a> {
    positive: bool,
    value: &'a [u8],
    num: &'a [u8],
    denom: &'a [u8],
    suffix: &'a [u8],
}

/// Port of upstream `parseQuantityString` (byte-wise, like Go's string indexing).
fn parse_quantity_string(s: &[u8]) -> Result<Parts<'_>, QuantityError> {
    let mut positive = true;
    let mut pos = 0usize;
    let end = s.len();

    // handle leading sign
    if pos < end {
        match s[0] {
            b'-' => {
                positive = false;
                pos += 1;
            }
            b'+' => pos += 1,
            _ => {}
        }
    }

    // strip leading zeros
    let mut i = pos;
    loop {
        if i >= end {
            return Ok(Parts {
                positive,
                value: b"0",
                num: b"0",
                denom: b"",
                suffix: b"",
            });
        }
        if s[i] == b'0' {
            pos += 1;
            i += 1;
        } else {
            break;
        }
    }

    // extract the numerator
    let mut num: &[u8];
    let mut i = pos;
    loop {
        if i >= end {
            return Ok(Parts {
                positive,
                value: &s[..end],
                num: &s[pos..end],
                denom: b"",
                suffix: b"",
            });
        }
        if s[i].is_ascii_digit() {
            i += 1;
        } else {
            num = &s[pos..i];
            pos = i;
            break;
        }
    }
    // if we stripped all numerator positions, always return 0
    if num.is_empty() {
        num = b"0";
    }

    // handle a denominator
    let mut denom: &[u8] = b"";
    if pos < end && s[pos] == b'.' {
        pos += 1;
        let mut i = pos;
        loop {
            if i >= end {
                return Ok(Parts {
                    positive,
                    value: &s[..end],
                    num,
                    denom: &s[pos..end],
                    suffix: b"",
                });
            }
            if s[i].is_ascii_digit() {
                i += 1;
            } else {
                denom = &s[pos..i];
                pos = i;
                break;
            }
        }
    }
    let value = &s[..pos];

    // grab the elements of the suffix
    let suffix_start = pos;
    let mut i = pos;
    loop {
        if i >= end {
            return Ok(Parts {
                positive,
                value,
                num,
                denom,
                suffix: &s[suffix_start..end],
            });
        }
        if !b"eEinumkKMGTP".contains(&s[i]) {
            pos = i;
            break;
        }
        i += 1;
    }
    if pos < end && (s[pos] == b'-' || s[pos] == b'+') {
        pos += 1;
    }
    let mut i = pos;
    loop {
        if i >= end {
            return Ok(Parts {
                positive,
                value,
                num,
                denom,
                suffix: &s[suffix_start..end],
            });
        }
        if s[i].is_ascii_digit() {
            i += 1;
        } else {
            break;
        }
    }
    // we encountered a non decimal in the Suffix loop, but the last character
    // was not a valid exponent
    Err(QuantityError::FormatWrong)
}

/// Port of upstream `quantitySuffixer.interpret`: (base, exponent, format).
fn interpret_suffix(suffix: &[u8]) -> Option<(i32, i32, Format)> {
    let dec = |e: i32| Some((10, e, Format::DecimalSI));
    let bin = |e: i32| Some((2, e, Format::BinarySI));
    match suffix {
        b"" => dec(0),
        b"n" => dec(-9),
        b"u" => dec(-6),
        b"m" => dec(-3),
        b"k" => dec(3),
        b"M" => dec(6),
        b"G" => dec(9),
        b"T" => dec(12),
        b"P" => dec(15),
        b"E" => dec(18),
        b"Ki" => bin(10),
        b"Mi" => bin(20),
        b"Gi" => bin(30),
        b"Ti" => bin(40),
        b"Pi" => bin(50),
        b"Ei" => bin(60),
        [b'e' | b'E', rest @ ..] if !rest.is_empty() => {
            // strconv.ParseInt(rest, 10, 64): optional sign, at least one ASCII digit,
            // int64 range; Rust's i64::from_str accepts exactly the same strings.
            let parsed: i64 = std::str::from_utf8(rest).ok()?.parse().ok()?;
            // Go: int32(parsed) truncates.
            Some((10, parsed as i32, Format::DecimalExponent))
        }
        _ => None,
    }
}

/// `inf.Dec.SetString` on the number part: returns (unscaled digits, scale), or `None` when
/// the string holds no digit ("no digits read"). The scanner has already guaranteed the
/// shape `[+-]?[0-9]*(\.[0-9]*)?`.
fn inf_dec_set_string(value: &[u8]) -> Option<(Vec<u8>, i32)> {
    let digits: Vec<u8> = ascii_digits(value).collect();
    if digits.is_empty() {
        return None;
    }
    let scale = match value.iter().position(|&c| c == b'.') {
        Some(dp) => (value.len() - dp - 1) as i32,
        None => 0,
    };
    Some((digits, scale))
}

// ---------------------------------------------------------------------------------------
// Decimal digit-vector arithmetic (most significant digit first).
// ---------------------------------------------------------------------------------------

fn ascii_digits(s: &[u8]) -> impl Iterator<Item = u8> + '_ {
    s.iter().filter(|c| c.is_ascii_digit()).map(|c| c - b'0')
}

/// Strips leading zeros, moves trailing zeros into `exp`; zero becomes (`[]`, 0).
fn normalize(digits: &mut Vec<u8>, exp: &mut i64) {
    let lead = digits.iter().take_while(|&&d| d == 0).count();
    digits.drain(..lead);
    if digits.is_empty() {
        *exp = 0;
        return;
    }
    let trail = digits.iter().rev().take_while(|&&d| d == 0).count();
    digits.truncate(digits.len() - trail);
    *exp += trail as i64;
}

fn push_u64_digits(out: &mut Vec<u8>, v: u64) {
    out.extend(v.to_string().bytes().map(|c| c - b'0'));
}

fn digits_to_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// digits × m, for m ≤ 2^32.
fn mul_small(digits: &mut Vec<u8>, m: u64) {
    let mut carry: u64 = 0;
    for d in digits.iter_mut().rev() {
        let v = u64::from(*d) * m + carry;
        *d = (v % 10) as u8;
        carry = v / 10;
    }
    let mut head = Vec::new();
    while carry > 0 {
        head.push((carry % 10) as u8);
        carry /= 10;
    }
    head.reverse();
    digits.splice(0..0, head);
}

fn mul_pow2(digits: &mut Vec<u8>, mut k: u32) {
    while k > 0 {
        let c = k.min(32);
        mul_small(digits, 1u64 << c);
        k -= c;
    }
}

/// digits + 1.
fn increment(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == 9 {
            *d = 0;
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, 1);
}

fn pad_zeros(digits: &[u8], n: i64) -> Option<Vec<u8>> {
    if n > MAX_ALIGN_DIGITS {
        return None;
    }
    let mut v = Vec::with_capacity(digits.len() + n as usize);
    v.extend_from_slice(digits);
    v.resize(digits.len() + n as usize, 0);
    Some(v)
}

/// Integer comparison of two digit vectors without leading zeros.
fn cmp_mag(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Compares a×10^ea with b×10^eb for normalized non-negative mantissas.
fn cmp_abs(a: &[u8], ea: i64, b: &[u8], eb: i64) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => {}
    }
    let ma = a.len() as i64 + ea;
    let mb = b.len() as i64 + eb;
    // Same leading-digit position: lexicographic order is numeric order because neither
    // mantissa has trailing zeros (a strict prefix is the smaller value).
    ma.cmp(&mb).then_with(|| a.cmp(b))
}

fn add_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let n = a.len().max(b.len());
    let mut out = Vec::with_capacity(n + 1);
    let mut carry = 0u8;
    for i in 0..n {
        let da = if i < a.len() { a[a.len() - 1 - i] } else { 0 };
        let db = if i < b.len() { b[b.len() - 1 - i] } else { 0 };
        let s = da + db + carry;
        out.push(s % 10);
        carry = s / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    out.reverse();
    out
}

/// a - b, requires a ≥ b.
fn sub_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i8;
    for i in 0..a.len() {
        let da = a[a.len() - 1 - i] as i8;
        let db = if i < b.len() {
            b[b.len() - 1 - i] as i8
        } else {
            0
        };
        let mut d = da - db - borrow;
        if d < 0 {
            d += 10;
            borrow = 1;
        } else {
            borrow = 0;
        }
        out.push(d as u8);
    }
    debug_assert_eq!(borrow, 0);
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        parse_quantity(s).unwrap_or_else(|e| panic!("{s:?}: unexpected error {e}"))
    }

    /// Quantity with value i × 10^exp (upstream test helper `decQuantity`).
    fn dec_quantity(i: i128, exp: i64, format: Format) -> Quantity {
        let mut digits = Vec::new();
        digits.extend(i.unsigned_abs().to_string().bytes().map(|c| c - b'0'));
        Quantity::new(i < 0, digits, exp, format)
    }

    fn neg(x: &Quantity) -> Quantity {
        let mut r = x.clone();
        r.negative = !r.negative && !r.digits.is_empty();
        r
    }

    // Table from upstream pkg/api/resource/quantity_test.go (v0.33.3), TestQuantityParse.
    // (input, mantissa, exponent, format): value = mantissa × 10^exponent.
    #[rustfmt::skip]
    const UPSTREAM_PARSE: &[(&str, i128, i64, Format)] = {
        use Format::*;
        &[
            ("0", 0, 0, DecimalSI),
            ("0n", 0, 0, DecimalSI),
            ("0u", 0, 0, DecimalSI),
            ("0m", 0, 0, DecimalSI),
            ("0Ki", 0, 0, BinarySI),
            ("0k", 0, 0, DecimalSI),
            ("0Mi", 0, 0, BinarySI),
            ("0M", 0, 0, DecimalSI),
            ("0Gi", 0, 0, BinarySI),
            ("0G", 0, 0, DecimalSI),
            ("0Ti", 0, 0, BinarySI),
            ("0T", 0, 0, DecimalSI),
            // Quantity less numbers are allowed
            ("1", 1, 0, DecimalSI),
            // Binary suffixes
            ("1Ki", 1024, 0, BinarySI),
            ("8Ki", 8 * 1024, 0, BinarySI),
            ("7Mi", 7 * 1024 * 1024, 0, BinarySI),
            ("6Gi", 6 * 1024 * 1024 * 1024, 0, BinarySI),
            ("5Ti", 5 * 1024 * 1024 * 1024 * 1024, 0, BinarySI),
            ("4Pi", 4 * 1024 * 1024 * 1024 * 1024 * 1024, 0, BinarySI),
            ("3Ei", 3 * 1024 * 1024 * 1024 * 1024 * 1024 * 1024, 0, BinarySI),
            ("10Ti", 10 * 1024 * 1024 * 1024 * 1024, 0, BinarySI),
            ("100Ti", 100 * 1024 * 1024 * 1024 * 1024, 0, BinarySI),
            // Decimal suffixes
            ("5n", 5, -9, DecimalSI),
            ("4u", 4, -6, DecimalSI),
            ("3m", 3, -3, DecimalSI),
            ("9", 9, 0, DecimalSI),
            ("8k", 8, 3, DecimalSI),
            ("50k", 5, 4, DecimalSI),
            ("7M", 7, 6, DecimalSI),
            ("6G", 6, 9, DecimalSI),
            ("5T", 5, 12, DecimalSI),
            ("40T", 4, 13, DecimalSI),
            ("300T", 3, 14, DecimalSI),
            ("2P", 2, 15, DecimalSI),
            ("1E", 1, 18, DecimalSI),
            // Decimal exponents
            ("1E-3", 1, -3, DecimalExponent),
            ("1e3", 1, 3, DecimalExponent),
            ("1E6", 1, 6, DecimalExponent),
            ("1e9", 1, 9, DecimalExponent),
            ("1E12", 1, 12, DecimalExponent),
            ("1e15", 1, 15, DecimalExponent),
            ("1E18", 1, 18, DecimalExponent),
            // Nonstandard but still parsable
            ("1e14", 1, 14, DecimalExponent),
            ("1e13", 1, 13, DecimalExponent),
            ("1e3", 1, 3, DecimalExponent),
            ("100.035k", 100035, 0, DecimalSI),
            // Things that look like floating point
            ("0.001", 1, -3, DecimalSI),
            ("0.0005k", 5, -1, DecimalSI),
            ("0.005", 5, -3, DecimalSI),
            ("0.05", 5, -2, DecimalSI),
            ("0.5", 5, -1, DecimalSI),
            ("0.00050k", 5, -1, DecimalSI),
            ("0.00500", 5, -3, DecimalSI),
            ("0.05000", 5, -2, DecimalSI),
            ("0.50000", 5, -1, DecimalSI),
            ("0.5e0", 5, -1, DecimalExponent),
            ("0.5e-1", 5, -2, DecimalExponent),
            ("0.5e-2", 5, -3, DecimalExponent),
            ("0.5e0", 5, -1, DecimalExponent),
            ("10.035M", 10035, 3, DecimalSI),
            ("1.2e3", 12, 2, DecimalExponent),
            ("1.3E+6", 13, 5, DecimalExponent),
            ("1.40e9", 14, 8, DecimalExponent),
            ("1.53E12", 153, 10, DecimalExponent),
            ("1.6e15", 16, 14, DecimalExponent),
            ("1.7E18", 17, 17, DecimalExponent),
            ("9.01", 901, -2, DecimalSI),
            ("8.1k", 81, 2, DecimalSI),
            ("7.123456M", 7123456, 0, DecimalSI),
            ("6.987654321G", 6987654321, 0, DecimalSI),
            ("5.444T", 5444, 9, DecimalSI),
            ("40.1T", 401, 11, DecimalSI),
            ("300.2T", 3002, 11, DecimalSI),
            ("2.5P", 25, 14, DecimalSI),
            ("1.01E", 101, 16, DecimalSI),
            // Things that saturate/round
            ("3.001n", 4, -9, DecimalSI),
            ("1.1E-9", 2, -9, DecimalExponent),
            ("0.0000000001", 1, -9, DecimalSI),
            ("0.0000000005", 1, -9, DecimalSI),
            ("0.00000000050", 1, -9, DecimalSI),
            ("0.5e-9", 1, -9, DecimalExponent),
            ("0.9n", 1, -9, DecimalSI),
            ("0.00000012345", 124, -9, DecimalSI),
            ("0.00000012354", 124, -9, DecimalSI),
            ("9Ei", i64::MAX as i128, 0, BinarySI),
            ("9223372036854775807Ki", i64::MAX as i128, 0, BinarySI),
            ("12E", 12, 18, DecimalSI),
            // We'll accept fractional binary stuff, too.
            ("100.035Ki", 10243584, -2, BinarySI),
            ("0.5Mi", 512 * 1024, 0, BinarySI),
            ("0.05Gi", 536870912, -1, BinarySI),
            ("0.025Ti", 274877906944, -1, BinarySI),
            // Things written by trolls
            ("0.000000000001Ki", 2, -9, DecimalSI), // rounds up, changes format
            (".001", 1, -3, DecimalSI),
            (".0001k", 100, -3, DecimalSI),
            ("1.", 1, 0, DecimalSI),
            ("1.G", 1, 9, DecimalSI),
        ]
    };

    #[test]
    fn upstream_quantity_parse_table() {
        for &(input, m, e, format) in UPSTREAM_PARSE {
            let want = dec_quantity(m, e, format);
            let got = q(input);
            assert_eq!(got, want, "{input}");
            assert_eq!(got.format(), format, "{input}");
        }
    }

    #[test]
    fn upstream_quantity_parse_table_negated() {
        // "Try the negative version of everything" (same value negated, same format).
        for &(input, m, e, format) in UPSTREAM_PARSE {
            let want = neg(&dec_quantity(m, e, format));
            let got = q(&format!("-{input}"));
            assert_eq!(got, want, "-{input}");
            assert_eq!(got.format(), format, "-{input}");
            assert_eq!(got.is_negative(), m != 0, "-{input}");
        }
    }

    #[test]
    fn upstream_quantity_parse_table_plus() {
        // "Try everything with an explicit +".
        for &(input, m, e, format) in UPSTREAM_PARSE {
            let got = q(&format!("+{input}"));
            assert_eq!(got, dec_quantity(m, e, format), "+{input}");
            assert_eq!(got.format(), format, "+{input}");
        }
    }

    #[test]
    fn upstream_invalid_inputs() {
        use QuantityError::*;
        // Upstream TestQuantityParse `invalid` list, plus "" and TestQuantityParseNonNumericPanic;
        // the error kinds follow from upstream's scanner/suffixer.
        let cases: &[(&str, QuantityError)] = &[
            ("", FormatWrong),
            ("1.1.M", FormatWrong),
            ("1+1.0M", FormatWrong),
            ("0.1mi", Suffix),
            ("0.1am", FormatWrong),
            ("aoeu", FormatWrong),
            (".5i", Suffix),
            ("1i", Suffix),
            ("-3.01i", Suffix),
            ("-3.01e-", Suffix),
            // trailing whitespace is forbidden
            (" 1", FormatWrong),
            ("1 ", FormatWrong),
            ("Non-Numeric", FormatWrong),
            ("invalid", FormatWrong),
        ];
        for &(input, want) in cases {
            assert_eq!(parse_quantity(input).unwrap_err(), want, "{input:?}");
        }
    }

    #[test]
    fn upstream_parse_quantity_string() {
        // TestParseQuantityString.
        let cases: &[(&str, bool, &str, &str, &str, &str)] = &[
            ("0.025Ti", true, "0.025", "0", "025", "Ti"),
            ("1.025Ti", true, "1.025", "1", "025", "Ti"),
            ("-1.025Ti", false, "-1.025", "1", "025", "Ti"),
            (".", true, ".", "0", "", ""),
            ("-.", false, "-.", "0", "", ""),
            ("1E-3", true, "1", "1", "", "E-3"),
        ];
        for &(input, positive, value, num, denom, suffix) in cases {
            let p = match parse_quantity_string(input.as_bytes()) {
                Ok(p) => p,
                Err(e) => panic!("{input}: {e}"),
            };
            assert_eq!(p.positive, positive, "{input}");
            assert_eq!(p.value, value.as_bytes(), "{input}");
            assert_eq!(p.num, num.as_bytes(), "{input}");
            assert_eq!(p.denom, denom.as_bytes(), "{input}");
            assert_eq!(p.suffix, suffix.as_bytes(), "{input}");
        }
    }

    #[test]
    fn upstream_parse_emit_values() {
        // TestQuantityParseEmit inputs, checked by value (no String() emitter here).
        let cases: &[(&str, i128, i64)] = &[
            ("1Ki", 1024, 0),
            ("1Mi", 1 << 20, 0),
            ("1Gi", 1 << 30, 0),
            ("1024Mi", 1 << 30, 0),
            ("1000M", 1, 9),
            (".001Ki", 1024, -3),
            (".000001Ki", 1024, -6),
            (".000000001Ki", 1024, -9),
            (".000000000001Ki", 2, -9),
        ];
        for &(input, m, e) in cases {
            assert_eq!(q(input), dec_quantity(m, e, Format::DecimalSI), "{input}");
        }
    }

    #[test]
    fn upstream_scaled_value() {
        // TestScaledValue: NewScaledQuantity(1, from).ScaledValue(to).
        let cases: &[(&str, i32, u64)] = &[
            ("1n", -9, 1),
            ("1n", -6, 1),
            ("1n", -3, 1),
            ("1n", 0, 1),
            ("1u", -9, 1000),
            ("1u", -6, 1),
            ("1u", -3, 1),
            ("1u", 0, 1),
            ("1m", -9, 1000 * 1000),
            ("1m", -6, 1000),
            ("1m", -3, 1),
            ("1m", 0, 1),
            ("1", -9, 1000 * 1000 * 1000),
            ("1", -6, 1000 * 1000),
            ("1", -3, 1000),
            ("1", 0, 1),
            ("1e2", -2, 100 * 100),
        ];
        for &(input, scale, want) in cases {
            assert_eq!(
                q(input).scaled_value(scale),
                Some(want),
                "{input} @ {scale}"
            );
        }
    }

    #[test]
    fn upstream_scaled_value_internal() {
        // scale_int_test.go TestScaledValueInternal: (unscaled, inf scale, new inf scale, want).
        // value = unscaled × 10^-scale; result = ceil(value × 10^newScale).
        let max = i64::MAX as i128;
        let cases: &[(i128, i64, i32, u64)] = &[
            (1000, 0, 0, 1000),
            (1000, 0, -3, 1),
            (1000, 3, 0, 1),
            (0, 3, 0, 0),
            (999, 3, 0, 1),
            (500, 3, 0, 1),
            (499, 3, 0, 1),
            (1, 3, 0, 1),
            (max - 1, 1, 0, ((i64::MAX - 1) / 10 + 1) as u64),
            (0, 0, 3, 0),
            (1, 0, 3, 1000),
            (1, -3, 0, 1000),
            (1000, -3, 2, 100000000),
            (max / 1000, 0, 3, ((i64::MAX / 1000) * 1000) as u64),
        ];
        for &(unscaled, scale, new_scale, want) in cases {
            let x = dec_quantity(unscaled, -scale, Format::DecimalSI);
            assert_eq!(
                x.scaled_value(-new_scale),
                Some(want),
                "{unscaled} {scale} {new_scale}"
            );
        }
        // "large intermediate result": 10^100 at scale 100 → 1.
        let mut digits = vec![1u8];
        digits.resize(101, 0);
        let x = Quantity::new(false, digits, -100, Format::DecimalSI);
        assert_eq!(x.value(), Some(1));
    }

    #[test]
    fn upstream_new_set_round_trips() {
        // TestMilliNewSet / TestNewSet / TestQuantityValueSet: canonical strings parse back.
        for &(s, milli) in &[
            ("1m", 1u64),
            ("1", 1000),
            ("1234", 1234000),
            ("1e3", 1000000),
        ] {
            assert_eq!(q(s).milli_value(), Some(milli), "{s}");
        }
        for &(s, v) in &[
            ("1", 1u64),
            ("1k", 1000),
            ("1234k", 1234000),
            ("1Ki", 1024),
            ("1e6", 1000000),
            ("1Mi", 1024 * 1024),
        ] {
            assert_eq!(q(s).value(), Some(v), "{s}");
        }
    }

    #[test]
    fn upstream_round_up_positive() {
        // TestQuantityRoundUp ("9.01" rounded up to each scale), as ScaledValue.
        let x = q("9.01");
        assert_eq!(x.scaled_value(-3), Some(9010));
        assert_eq!(x.scaled_value(-2), Some(901));
        assert_eq!(x.scaled_value(-1), Some(91));
        assert_eq!(x.scaled_value(0), Some(10));
        assert_eq!(x.scaled_value(1), Some(1));
        assert_eq!(x.scaled_value(2), Some(1));
    }

    #[test]
    fn upstream_add() {
        // TestAdd (values only).
        let sum = dec_quantity(10, 0, Format::DecimalSI)
            .checked_add(&dec_quantity(1, 1, Format::DecimalSI))
            .unwrap();
        assert_eq!(sum, dec_quantity(20, 0, Format::DecimalSI));
        let sum = dec_quantity(10, 0, Format::BinarySI)
            .checked_add(&dec_quantity(1, 0, Format::DecimalSI))
            .unwrap();
        assert_eq!(sum, dec_quantity(11, 0, Format::DecimalSI));
        assert_eq!(sum.format(), Format::BinarySI);
        let sum = Quantity::zero(Format::DecimalSI)
            .checked_add(&dec_quantity(50, 0, Format::BinarySI))
            .unwrap();
        assert_eq!(sum, dec_quantity(50, 0, Format::DecimalSI));
        assert_eq!(sum.format(), Format::BinarySI);
    }

    #[test]
    fn scheduler_examples() {
        assert_eq!(q("500m").milli_value(), Some(500));
        assert_eq!(q("1.5").milli_value(), Some(1500));
        assert_eq!(q("0.1").milli_value(), Some(100));
        assert_eq!(q("100m").milli_value(), Some(100));
        assert_eq!(q("2Gi").value(), Some(2147483648));
        assert_eq!(q("512M").value(), Some(512000000));
        assert_eq!(q("1e3").value(), Some(1000));
        assert_eq!(q("0.5m").milli_value(), Some(1));
        assert_eq!(q("0.5m").value(), Some(1));
        assert_eq!(q("1m").value(), Some(1));
        assert_eq!(q("1m").milli_value(), Some(1));
        assert_eq!(q("200Mi").value(), Some(209715200));
        assert_eq!(q("1.5Ki").value(), Some(1536));
        assert_eq!(q("1Ki").value(), Some(1024));
        assert_eq!(q("1.5Gi").value(), Some(1610612736));
        assert_eq!(q("1.5Gi").milli_value(), Some(1610612736000));
        assert_eq!(q("128974848e-3").value(), Some(128975));
        assert_eq!(q("128974848e-3").milli_value(), Some(128974848));
        assert_eq!(q("100n").milli_value(), Some(1));
        assert_eq!(q("100n").value(), Some(1));
        assert_eq!(q("0").value(), Some(0));
        assert_eq!(q("0").milli_value(), Some(0));
        assert_eq!(q("1001m").value(), Some(2));
        assert_eq!(q("999m").value(), Some(1));
        assert_eq!(q("110").value(), Some(110));
    }

    #[test]
    fn required_errors() {
        assert_eq!(
            parse_quantity("1.5x").unwrap_err(),
            QuantityError::FormatWrong
        );
        assert_eq!(parse_quantity("").unwrap_err(), QuantityError::FormatWrong);
        assert_eq!(parse_quantity("K").unwrap_err(), QuantityError::Suffix);
        assert_eq!(parse_quantity("1K").unwrap_err(), QuantityError::Suffix);
        assert_eq!(parse_quantity("1e").unwrap_err(), QuantityError::Suffix);
        assert_eq!(parse_quantity("1ee3").unwrap_err(), QuantityError::Suffix);
        assert_eq!(parse_quantity("1-").unwrap_err(), QuantityError::Suffix);
        assert_eq!(
            parse_quantity("1e3e").unwrap_err(),
            QuantityError::FormatWrong
        );
        assert_eq!(
            parse_quantity("1\t").unwrap_err(),
            QuantityError::FormatWrong
        );
        assert_eq!(
            parse_quantity("1µ").unwrap_err(),
            QuantityError::FormatWrong
        );
        // exponent outside int64: strconv.ParseInt fails
        assert_eq!(
            parse_quantity("1e9223372036854775808").unwrap_err(),
            QuantityError::Suffix
        );
        // inf.Dec.SetString("") fails on the slow path: "no digits read"
        assert_eq!(parse_quantity("e-10").unwrap_err(), QuantityError::Numeric);
        assert_eq!(
            parse_quantity("-.e-10").unwrap_err(),
            QuantityError::Numeric
        );
        assert_eq!(parse_quantity("Pi").unwrap_err(), QuantityError::Numeric);
        assert_eq!(parse_quantity("Ei").unwrap_err(), QuantityError::Numeric);
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            QuantityError::FormatWrong.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
        assert_eq!(
            QuantityError::Suffix.to_string(),
            "unable to parse quantity's suffix"
        );
        assert_eq!(
            QuantityError::Numeric.to_string(),
            "unable to parse numeric part of quantity"
        );
        let e: Box<dyn std::error::Error> = Box::new(QuantityError::Suffix);
        assert!(e.source().is_none());
    }

    #[test]
    fn negatives() {
        let x = q("-1");
        assert!(x.is_negative());
        assert_eq!(x.value(), None);
        assert_eq!(x.milli_value(), None);
        assert!(q("-1m").is_negative());
        assert!(q("-0.0000000001").is_negative()); // rounds away from zero to -1n
        assert!(!q("-0").is_negative());
        assert_eq!(q("-0").value(), Some(0));
        assert!(!q("-0.0").is_negative());
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(q(".5").milli_value(), Some(500));
        assert_eq!(q("5.").value(), Some(5));
        assert_eq!(q("+1").value(), Some(1));
        assert_eq!(q("0001").value(), Some(1));
        assert_eq!(q("007.50").milli_value(), Some(7500));
        assert_eq!(q("1e+3").value(), Some(1000));
        assert_eq!(q("1E+3").value(), Some(1000));
        assert_eq!(q("5E-3").milli_value(), Some(5));
        assert_eq!(q("1E").value(), Some(1_000_000_000_000_000_000));
        assert_eq!(q("1Ei").value(), Some(1 << 60));
        // Empty number parts are zero upstream.
        for s in [
            "+", "-", ".", "-.", "m", "Ki", "Ti", "E", "0Pi", "e-9", "000",
        ] {
            let x = q(s);
            assert!(x.is_zero(), "{s}");
            assert_eq!(x.value(), Some(0), "{s}");
        }
        assert_eq!(q("Ki").format(), Format::BinarySI);
        assert_eq!("250m".parse::<Quantity>().unwrap().milli_value(), Some(250));
    }

    #[test]
    fn large_and_tiny_values() {
        // More than 18 digits: upstream's inf.Dec path, kept exact.
        let x = q("12345678901234567890m");
        assert_eq!(x.milli_value(), Some(12345678901234567890));
        assert_eq!(x.value(), Some(12345678901234568));
        assert_eq!(q("18446744073709551615").value(), Some(u64::MAX));
        assert_eq!(q("18446744073709551616").value(), None);
        assert_eq!(q("18446744073709551615m").milli_value(), Some(u64::MAX));
        assert_eq!(q("18446744073709551615").milli_value(), None);
        assert_eq!(q("18446744073709551614.5").value(), Some(u64::MAX));
        assert_eq!(q("18446744073709551615.5").value(), None);
        assert_eq!(q("1e1000").value(), None);
        assert_eq!(q("10E").value(), Some(10_000_000_000_000_000_000));
        assert_eq!(q("100E").value(), None);
        // BinarySI cap at int64 max.
        assert_eq!(q("8Ei").value(), Some(i64::MAX as u64));
        assert_eq!(q("8Ei").milli_value(), None);
        assert_eq!(
            q("-8Ei"),
            neg(&dec_quantity(i64::MAX as i128, 0, Format::BinarySI))
        );
        assert_eq!(q("7.99999Ei").format(), Format::BinarySI);
        // Nano rounding at parse time.
        assert_eq!(
            q("1e-1000000"),
            dec_quantity(1, -9, Format::DecimalExponent)
        );
        assert_eq!(q("0.9999999999"), dec_quantity(1, 0, Format::DecimalSI));
        assert_eq!(
            q("1.0000000001"),
            dec_quantity(1000000001, -9, Format::DecimalSI)
        );
        assert_eq!(
            q("0.00000000000000000000000000000000000000012345"),
            dec_quantity(1, -9, Format::DecimalSI)
        );
        assert_eq!(
            q("1.0000000001Ki"),
            dec_quantity(1024000000103, -9, Format::BinarySI)
        );
        // Exponent truncated to int32 as Go's int32(parsed) does.
        assert_eq!(
            q("1e4294967296"),
            dec_quantity(1, 0, Format::DecimalExponent)
        );
        assert_eq!(q("1e4294967299").value(), Some(1000));
        // int32 scale arithmetic wraps as in Go: "1e-2147483648" is 10^2147483648.
        let x = q("1e-2147483648");
        assert!(!x.is_negative());
        assert_eq!(x.value(), None);
        assert_eq!(x, dec_quantity(1, 2147483648, Format::DecimalExponent));
    }

    #[test]
    fn summation_is_exact() {
        let a = q("0.5m");
        let b = q("0.5m");
        let s = a.checked_add(&b).unwrap();
        assert_eq!(s.milli_value(), Some(1));
        assert_eq!(a.milli_value().unwrap() + b.milli_value().unwrap(), 2);
        let s = q("100m").checked_add(&q("-100m")).unwrap();
        assert!(s.is_zero() && !s.is_negative());
        let s = q("1Gi").checked_add(&q("1.5")).unwrap();
        assert_eq!(s.milli_value(), Some(1073741825500));
        assert_eq!(q("1").checked_add(&q("-3")).unwrap(), neg(&q("2")));
        assert_eq!(q("1e2000000").checked_add(&q("1")), None);
        assert_eq!(q("1").cmp_value(&q("1000m")), Ordering::Equal);
        assert_eq!(q("-2").cmp_value(&q("-1")), Ordering::Less);
        assert_eq!(q("1Ki").cmp_value(&q("1k")), Ordering::Greater);
    }
}
