// Deadlines, expiry times and ages computed from numbers a client or a replayed record chose:
// clamped at the type's bounds, because Swift traps on overflow and an Int64.max timeout
// must mean "never", not a crashed broker.

extension System {
    /// `milliseconds` after `now` on the monotonic clock (nanoseconds), clamped: an interval
    /// of Int.max (a setting at its limit) means "never", not an overflow.
    public static func deadline(afterMilliseconds milliseconds: Int, from now: UInt64) -> UInt64 {
        let (nanoseconds, overflow) = UInt64(max(milliseconds, 0)).multipliedReportingOverflow(by: 1_000_000)
        return overflow ? .max : now.clampedAdding(nanoseconds)
    }
}

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
