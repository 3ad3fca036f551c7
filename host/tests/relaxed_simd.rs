//! Relaxed SIMD gives the deterministic answers, through the library's
//! engine and through the binary (which compiles in a child process):
//! lanes where x86's own instructions (`pshufb`, `cvttps2dq`, `minps`,
//! `blendv`, `pmulhrsw`, `pmaddubsw`) answer differently from the
//! WebAssembly spec's deterministic semantics, which a filter's output and
//! a stateful filter's state carried to another host rely on (ABI.md).

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::*;

/// Whether the 16 bytes an instruction gave are the deterministic answer;
/// `Err` says what was expected instead.
type Check = Box<dyn Fn(&[u8; 16]) -> Result<(), String>>;

/// One relaxed instruction applied to up to three operands of 16 bytes.
struct Case {
    name: &'static str,
    instruction: &'static str,
    operands: Vec<[u8; 16]>,
    check: Check,
}

fn from_i8(lanes: [i8; 16]) -> [u8; 16] {
    lanes.map(|lane| lane as u8)
}

fn from_i16(lanes: [i16; 8]) -> [u8; 16] {
    bytes(lanes.iter().flat_map(|lane| lane.to_le_bytes()))
}

fn from_u32(lanes: [u32; 4]) -> [u8; 16] {
    bytes(lanes.iter().flat_map(|lane| lane.to_le_bytes()))
}

fn from_i32(lanes: [i32; 4]) -> [u8; 16] {
    bytes(lanes.iter().flat_map(|lane| lane.to_le_bytes()))
}

fn from_f32(lanes: [f32; 4]) -> [u8; 16] {
    from_u32(lanes.map(f32::to_bits))
}

fn from_f64(lanes: [f64; 2]) -> [u8; 16] {
    bytes(lanes.iter().flat_map(|lane| lane.to_bits().to_le_bytes()))
}

fn bytes(from: impl Iterator<Item = u8>) -> [u8; 16] {
    from.collect::<Vec<_>>().try_into().unwrap()
}

/// Compares lane by lane as `lanes` reads them; a lane expected to be NaN
/// may be any NaN (WebAssembly leaves its bits open), every other lane is
/// compared bit for bit.
fn exactly<T: PartialEq + std::fmt::Debug + Copy + 'static>(
    expected: Vec<T>,
    lanes: fn(&[u8; 16]) -> Vec<T>,
    is_nan: fn(T) -> bool,
    same_bits: fn(T, T) -> bool,
) -> Check {
    Box::new(move |got| {
        let got = lanes(got);
        let matches = (got.iter().zip(&expected)).all(|(&g, &e)| {
            if is_nan(e) {
                is_nan(g)
            } else {
                same_bits(g, e)
            }
        });
        match matches {
            true => Ok(()),
            false => Err(format!("expected {expected:?}, got {got:?}")),
        }
    })
}

fn integers<T: PartialEq + std::fmt::Debug + Copy + 'static>(
    expected: Vec<T>,
    lanes: fn(&[u8; 16]) -> Vec<T>,
) -> Check {
    exactly(expected, lanes, |_| false, |a, b| a == b)
}

fn i16_lanes(v: &[u8; 16]) -> Vec<i16> {
    (v.chunks(2))
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

fn i32_lanes(v: &[u8; 16]) -> Vec<i32> {
    (v.chunks(4))
        .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn u32_lanes(v: &[u8; 16]) -> Vec<u32> {
    (v.chunks(4))
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn f32_lanes(v: &[u8; 16]) -> Vec<f32> {
    u32_lanes(v).into_iter().map(f32::from_bits).collect()
}

fn f64_lanes(v: &[u8; 16]) -> Vec<f64> {
    (v.chunks(8))
        .map(|c| f64::from_bits(u64::from_le_bytes(c.try_into().unwrap())))
        .collect()
}

fn floats32(expected: Vec<f32>) -> Check {
    exactly(expected, f32_lanes, f32::is_nan, |a, b| {
        a.to_bits() == b.to_bits()
    })
}

fn floats64(expected: Vec<f64>) -> Check {
    exactly(expected, f64_lanes, f64::is_nan, |a, b| {
        a.to_bits() == b.to_bits()
    })
}

/// WebAssembly's `min`: NaN if either is, and -0 below +0.
fn wasm_min<T: PartialOrd + Copy>(a: T, b: T, is_nan: fn(T) -> bool, negative: fn(T) -> bool) -> T {
    match () {
        _ if is_nan(a) => a,
        _ if is_nan(b) => b,
        _ if a == b => {
            if negative(a) {
                a
            } else {
                b
            }
        }
        _ if a < b => a,
        _ => b,
    }
}

/// WebAssembly's `max`: NaN if either is, and +0 above -0.
fn wasm_max<T: PartialOrd + Copy>(a: T, b: T, is_nan: fn(T) -> bool, negative: fn(T) -> bool) -> T {
    match () {
        _ if is_nan(a) => a,
        _ if is_nan(b) => b,
        _ if a == b => {
            if negative(a) {
                b
            } else {
                a
            }
        }
        _ if a > b => a,
        _ => b,
    }
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name, instruction, operands: Vec<[u8; 16]>, check| {
        cases.push(Case {
            name,
            instruction,
            operands,
            check,
        });
    };

    // pshufb takes an index's low four bits unless its top bit is set; the
    // deterministic answer for any index past 15 is 0.
    let table: [u8; 16] = std::array::from_fn(|i| 0xa0 + i as u8);
    let indices: [u8; 16] = [
        0, 5, 15, 16, 17, 31, 32, 64, 100, 127, 128, 200, 255, 3, 20, 126,
    ];
    let swizzled = indices.map(|i| table.get(i as usize).copied().unwrap_or(0));
    add(
        "relaxed_swizzle",
        "i8x16.relaxed_swizzle",
        vec![table, indices],
        integers(swizzled.to_vec(), |v| v.to_vec()),
    );

    // cvttps2dq answers i32::MIN for NaN and for anything out of range;
    // deterministically NaN is 0 and the rest saturates (Rust's `as`).
    let wide = [f32::NAN, 3.0e9, -3.0e9, -7.9];
    add(
        "relaxed_trunc_f32x4_s",
        "i32x4.relaxed_trunc_f32x4_s",
        vec![from_f32(wide)],
        integers(wide.map(|x| x as i32).to_vec(), i32_lanes),
    );
    let wide = [f32::NAN, 5.0e9, -1.0, 7.9];
    add(
        "relaxed_trunc_f32x4_u",
        "i32x4.relaxed_trunc_f32x4_u",
        vec![from_f32(wide)],
        integers(wide.map(|x| x as u32).to_vec(), u32_lanes),
    );
    let wide = [f64::NAN, -1.0e10];
    add(
        "relaxed_trunc_f64x2_s_zero",
        "i32x4.relaxed_trunc_f64x2_s_zero",
        vec![from_f64(wide)],
        integers(vec![0, i32::MIN, 0, 0], i32_lanes),
    );
    let wide = [1.0e10, f64::NAN];
    add(
        "relaxed_trunc_f64x2_u_zero",
        "i32x4.relaxed_trunc_f64x2_u_zero",
        vec![from_f64(wide)],
        integers(vec![u32::MAX, 0, 0, 0], u32_lanes),
    );

    // Deterministically fused (one rounding): (1 + 2^-12)^2 - (1 + 2^-11)
    // is 2^-24 fused and 0 rounded twice.
    let near_one = 1.0 + 2f32.powi(-12);
    let (a, b, c) = (
        [near_one, 2.0, -1.5, 1e30],
        [near_one, 3.0, 4.0, 1e10],
        [-(1.0 + 2f32.powi(-11)), 1.0, 0.25, -1e40f64 as f32],
    );
    let fused: Vec<f32> = (0..4).map(|i| a[i].mul_add(b[i], c[i])).collect();
    assert_eq!(fused[0], 2f32.powi(-24));
    add(
        "f32x4.relaxed_madd",
        "f32x4.relaxed_madd",
        vec![from_f32(a), from_f32(b), from_f32(c)],
        floats32(fused),
    );
    let negated: Vec<f32> = (0..4).map(|i| (-a[i]).mul_add(b[i], c[i])).collect();
    add(
        "f32x4.relaxed_nmadd",
        "f32x4.relaxed_nmadd",
        vec![from_f32(a), from_f32(b), from_f32(c)],
        floats32(negated),
    );
    let near_one = 1.0 + 2f64.powi(-27);
    let (a, b, c) = (
        [near_one, -3.0],
        [near_one, 0.5],
        [-(1.0 + 2f64.powi(-26)), 1.0],
    );
    let fused: Vec<f64> = (0..2).map(|i| a[i].mul_add(b[i], c[i])).collect();
    assert_eq!(fused[0], 2f64.powi(-54));
    add(
        "f64x2.relaxed_madd",
        "f64x2.relaxed_madd",
        vec![from_f64(a), from_f64(b), from_f64(c)],
        floats64(fused),
    );

    // minps/maxps answer their second operand when either is NaN, and for
    // two zeros.
    let (a, b) = ([1.0, 0.0, f32::NAN, 2.0], [f32::NAN, -0.0, 1.0, 3.0]);
    let f32_negative: fn(f32) -> bool = f32::is_sign_negative;
    let least = (0..4)
        .map(|i| wasm_min(a[i], b[i], f32::is_nan, f32_negative))
        .collect();
    add(
        "f32x4.relaxed_min",
        "f32x4.relaxed_min",
        vec![from_f32(a), from_f32(b)],
        floats32(least),
    );
    let (a, b) = ([1.0, -0.0, f32::NAN, 2.0], [f32::NAN, 0.0, 1.0, 3.0]);
    let most = (0..4)
        .map(|i| wasm_max(a[i], b[i], f32::is_nan, f32_negative))
        .collect();
    add(
        "f32x4.relaxed_max",
        "f32x4.relaxed_max",
        vec![from_f32(a), from_f32(b)],
        floats32(most),
    );
    let (a, b) = ([1.0, 0.0], [f64::NAN, -0.0]);
    let f64_negative: fn(f64) -> bool = f64::is_sign_negative;
    let least = (0..2)
        .map(|i| wasm_min(a[i], b[i], f64::is_nan, f64_negative))
        .collect();
    add(
        "f64x2.relaxed_min",
        "f64x2.relaxed_min",
        vec![from_f64(a), from_f64(b)],
        floats64(least),
    );
    let (a, b) = ([1.0, -0.0], [f64::NAN, 0.0]);
    let most = (0..2)
        .map(|i| wasm_max(a[i], b[i], f64::is_nan, f64_negative))
        .collect();
    add(
        "f64x2.relaxed_max",
        "f64x2.relaxed_max",
        vec![from_f64(a), from_f64(b)],
        floats64(most),
    );

    // blendv takes a whole lane by its mask's top bit; deterministically
    // each bit of the mask picks its own bit.
    let (a, b) = ([0xaa; 16], [0x55; 16]);
    let select = |mask: [u8; 16]| -> Vec<u8> {
        (0..16)
            .map(|i| (a[i] & mask[i]) | (b[i] & !mask[i]))
            .collect()
    };
    for (name, mask) in [
        (
            "i8x16.relaxed_laneselect",
            [
                0x80, 0x7f, 0x0f, 0xf0, 0xff, 0, 0x81, 1, 0x80, 0x7f, 0x0f, 0xf0, 0xff, 0, 0x81, 1,
            ],
        ),
        (
            "i16x8.relaxed_laneselect",
            from_i16([i16::MIN, 0x7fff, 0x00ff, -1, 0, 0x0f0f, -0x7f7f, 1]),
        ),
        (
            "i32x4.relaxed_laneselect",
            from_u32([0x8000_0000, 0x7fff_ffff, 0xffff_0000, 0x0000_ffff]),
        ),
        (
            "i64x2.relaxed_laneselect",
            from_u32([0, 0x8000_0000, 0xffff_ffff, 0x7fff_ffff]),
        ),
    ] {
        add(
            name,
            name,
            vec![a, b, mask],
            integers(select(mask), |v| v.to_vec()),
        );
    }

    // pmulhrsw wraps -1 × -1 (in Q15) to -1; deterministically it saturates.
    let a = [i16::MIN, i16::MIN, 16384, 100, -300, i16::MAX, 1, -1];
    let b = [i16::MIN, i16::MAX, 16384, -3, -300, i16::MAX, 1, i16::MIN];
    let q15: Vec<i16> = (0..8)
        .map(|i| ((a[i] as i32 * b[i] as i32 + (1 << 14)) >> 15).clamp(-32768, 32767) as i16)
        .collect();
    add(
        "i16x8.relaxed_q15mulr_s",
        "i16x8.relaxed_q15mulr_s",
        vec![from_i16(a), from_i16(b)],
        integers(q15, i16_lanes),
    );

    // pmaddubsw reads one operand as unsigned bytes; deterministically both
    // are signed.
    let a: [i8; 16] = [
        -1, 2, -128, 127, -5, -6, 7, -8, 100, -100, -1, -1, 64, -64, 0, 3,
    ];
    let b: [i8; 16] = [5, 7, 1, 1, 127, 126, 0, 9, 3, 3, -1, -2, 2, 2, -128, 1];
    let products: Vec<i32> = (0..16).map(|i| a[i] as i32 * b[i] as i32).collect();
    let pairs: Vec<i16> = (0..8)
        .map(|i| (products[2 * i] + products[2 * i + 1]) as i16)
        .collect();
    add(
        "i16x8.relaxed_dot_i8x16_i7x16_s",
        "i16x8.relaxed_dot_i8x16_i7x16_s",
        vec![from_i8(a), from_i8(b)],
        integers(pairs, i16_lanes),
    );
    let c = [1000, -1000, i32::MAX - 10, 7];
    let quads: Vec<i32> = (0..4)
        .map(|i| {
            products[4 * i..4 * i + 4]
                .iter()
                .sum::<i32>()
                .wrapping_add(c[i])
        })
        .collect();
    add(
        "i32x4.relaxed_dot_i8x16_i7x16_add_s",
        "i32x4.relaxed_dot_i8x16_i7x16_add_s",
        vec![from_i8(a), from_i8(b), from_i32(c)],
        integers(quads, i32_lanes),
    );
    cases
}

/// Where case `i`'s operands and answer are in the filter's memory.
fn operands_at(i: usize) -> usize {
    4096 + i * 48
}

fn answer_at(i: usize) -> usize {
    8192 + i * 16
}

/// A filter that, for a batch of one event, applies every case to its
/// operands (loaded from memory, so no operand is a constant the compiler
/// could fold) and adds the answers' bytes in hex as the member `"r"`.
fn filter_wat(cases: &[Case]) -> String {
    let mut data = String::new();
    let mut work = String::new();
    for (i, case) in cases.iter().enumerate() {
        let escaped: String = (case.operands.iter().flatten())
            .map(|b| format!("\\{b:02x}"))
            .collect();
        data += &format!("(data (i32.const {}) \"{escaped}\")\n", operands_at(i));
        let loads: String = (0..case.operands.len())
            .map(|k| format!(" (v128.load (i32.const {}))", operands_at(i) + 16 * k))
            .collect();
        work += &format!(
            "(v128.store (i32.const {}) ({}{loads}))\n",
            answer_at(i),
            case.instruction
        );
    }
    let answer_bytes = 16 * cases.len();
    // count, kind 4 (extended), length, then `"r":"` HEX `"`.
    let payload = 5 + 2 * answer_bytes + 1;
    let hex_at = 2048 + 9 + 5;
    let process = format!(
        r#"
    (if (i32.ne (i32.load (local.get $ptr)) (i32.const 1)) (then unreachable))
    {work}
    (i32.store (i32.const 2048) (i32.const 1))
    (i32.store8 (i32.const 2052) (i32.const 4))
    (i32.store (i32.const 2053) (i32.const {payload}))
    (memory.copy (i32.const 2057) (i32.const 1200) (i32.const 5))
    (local.set $i (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (i32.const {answer_bytes})))
      (local.set $n (i32.load8_u (i32.add (i32.const 8192) (local.get $i))))
      (i32.store8 (i32.add (i32.const {hex_at}) (i32.shl (local.get $i) (i32.const 1)))
        (i32.load8_u (i32.add (i32.const 1100) (i32.shr_u (local.get $n) (i32.const 4)))))
      (i32.store8 (i32.add (i32.const {hex_odd}) (i32.shl (local.get $i) (i32.const 1)))
        (i32.load8_u (i32.add (i32.const 1100) (i32.and (local.get $n) (i32.const 15)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.store8 (i32.const {quote_at}) (i32.const 34))
    (i64.or (i64.shl (i64.const 2048) (i64.const 32)) (i64.const {total}))"#,
        hex_odd = hex_at + 1,
        quote_at = hex_at + 2 * answer_bytes,
        total = 9 + payload,
    );
    wat_filter(&process).replacen(
        "(module",
        &format!(
            "(module\n(data (i32.const 1100) \"0123456789abcdef\")\n\
             (data (i32.const 1200) \"\\22r\\22:\\22\")\n{data}"
        ),
        1,
    )
}

/// Checks the event the filter made against every case; all mismatches
/// are named at once.
fn assert_deterministic(cases: &[Case], event: &serde_json::Value) {
    let hex = event["r"]
        .as_str()
        .unwrap_or_else(|| panic!("no answers in {event}"));
    let answers: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert_eq!(answers.len(), 16 * cases.len(), "{event}");
    let wrong: Vec<String> = (cases.iter().zip(answers.chunks(16)))
        .filter_map(|(case, answer)| {
            let check = (case.check)(answer.try_into().unwrap());
            check.err().map(|why| format!("{}: {why}", case.name))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "not the deterministic answers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn relaxed_simd_gives_the_deterministic_answers_in_the_library() {
    let cases = cases();
    let wat = filter_wat(&cases);
    let module = load(&strict_engine(), "relaxed", wat.as_bytes(), "{}");
    let results = as_json(pipeline(module).process(message_events(&["x"])));
    assert_eq!(results.len(), 1);
    assert_deterministic(&cases, &results[0]);
}

#[test]
fn relaxed_simd_gives_the_deterministic_answers_in_the_binary() {
    let cases = cases();
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("relaxed.wat");
    std::fs::write(&module, filter_wat(&cases)).unwrap();
    let mut run = Command::new(env!("CARGO_BIN_EXE_wasmstash"))
        .args(["run", "--no-cache", "--format", "ndjson", "--filter"])
        .arg(&module)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (run.stdin.take().unwrap())
        .write_all(b"{\"message\":\"x\"}\n")
        .unwrap();
    let out = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}\n{stderr}");
    assert_deterministic(&cases, &serde_json::from_str(lines[0]).unwrap());
}
