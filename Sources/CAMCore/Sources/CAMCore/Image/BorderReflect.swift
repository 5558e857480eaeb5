/// OpenCV's default border, BORDER_REFLECT_101: out-of-range index −1 reads 1, n reads n − 2.
@inline(__always)
func reflect101(_ i: Int, _ n: Int) -> Int {
    if n == 1 { return 0 }
    var i = i
    while i < 0 || i >= n { i = i < 0 ? -i : 2 * (n - 1) - i }
    return i
}
