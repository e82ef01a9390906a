// Deadlines, expiry times and ages computed from numbers a client or a replayed record chose:
// clamped at the type's bounds, because Swift traps on overflow and an Int64.max timeout
// must mean "never", not a crashed broker.

extension FixedWidthInteger {
    /// `self + other`, clamped to the type's range.
    @inlinable public func clampedAdding(_ other: Self) -> Self {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// `self - other`, clamped to the type's range.
    @inlinable public func clampedSubtracting(_ other: Self) -> Self {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other > 0 ? .min : .max) : difference
    }
}
