//! Vietnamese names: family names at their national frequencies (with the northern and
//! southern spellings of Hoàng/Huỳnh and Vũ/Võ), middle names that say the sex and change
//! with the generation (fewer Văn and Thị among the young), and given names by sex, older
//! and newer fashions apart.

use outbreak_domain::Sex;
use rand::Rng;

use crate::pick::{Weighted, chance};

/// Family names as (northern spelling, southern spelling, share in tenths of a percent).
/// The shares follow published surveys: Nguyễn about 38%, Trần 11%, Lê 9.5%, …
const FAMILY: &[(&str, &str, u32)] = &[
    ("Nguyễn", "Nguyễn", 379),
    ("Trần", "Trần", 110),
    ("Lê", "Lê", 95),
    ("Phạm", "Phạm", 70),
    ("Hoàng", "Huỳnh", 51),
    ("Phan", "Phan", 45),
    ("Vũ", "Võ", 39),
    ("Đặng", "Đặng", 21),
    ("Bùi", "Bùi", 20),
    ("Đỗ", "Đỗ", 14),
    ("Hồ", "Hồ", 13),
    ("Ngô", "Ngô", 13),
    ("Dương", "Dương", 10),
    ("Lý", "Lý", 5),
    ("Đinh", "Đinh", 9),
    ("Trương", "Trương", 9),
    ("Đoàn", "Đoàn", 6),
    ("Lâm", "Lâm", 6),
    ("Mai", "Mai", 6),
    ("Trịnh", "Trịnh", 6),
    ("Đào", "Đào", 6),
    ("Cao", "Cao", 5),
    ("Lương", "Lương", 5),
    ("Hà", "Hà", 5),
    ("Lưu", "Lưu", 4),
    ("Tạ", "Tạ", 3),
    ("Chu", "Chu", 3),
    ("Tô", "Tô", 3),
    ("Thái", "Thái", 3),
    ("Châu", "Châu", 3),
    ("Triệu", "Triệu", 3),
    ("Phùng", "Phùng", 3),
    ("Kiều", "Kiều", 2),
    ("Quách", "Quách", 2),
    ("Tăng", "Tăng", 2),
    ("La", "La", 2),
    ("Vương", "Vương", 2),
    ("Lại", "Lại", 2),
    ("Tống", "Tống", 2),
    ("Hứa", "Hứa", 2),
    ("Văn", "Văn", 2),
    ("Khúc", "Khúc", 1),
    ("Nghiêm", "Nghiêm", 1),
    ("Doãn", "Doãn", 1),
    ("Từ", "Từ", 1),
    ("Thân", "Thân", 1),
    ("Mạc", "Mạc", 1),
    ("Âu", "Âu", 1),
    ("Diệp", "Diệp", 1),
    ("Khổng", "Khổng", 1),
];

/// Middle names other than Văn and Thị, for men and for women.
const MIDDLE_MALE: &[&str] = &[
    "Hữu", "Đức", "Minh", "Quang", "Công", "Thành", "Xuân", "Ngọc", "Trọng", "Anh", "Hoàng", "Tuấn", "Duy", "Đình",
    "Mạnh", "Tiến", "Quốc", "Thanh", "Hải", "Nhật", "Đăng", "Khánh", "Trung", "Việt",
];
const MIDDLE_FEMALE: &[&str] = &[
    "Ngọc", "Thu", "Thanh", "Minh", "Thùy", "Phương", "Kim", "Hải", "Khánh", "Diệu", "Mai", "Hồng", "Thúy", "Quỳnh",
    "Bích", "Hoài", "Tường", "Như", "Hà", "Lan", "Mỹ", "Cẩm",
];

/// Given names long in use, for men and for women.
const GIVEN_MALE_OLDER: &[&str] = &[
    "Hùng", "Dũng", "Tuấn", "Minh", "Nam", "Hải", "Long", "Sơn", "Thắng", "Trung", "Hiếu", "Đức", "Cường", "Thành",
    "Hoàng", "Việt", "Toàn", "Bình", "Tâm", "Lâm", "Phong", "Vinh", "Hưng", "Nghĩa", "Quang", "Tiến", "Thịnh", "Tài",
    "Lộc", "Phát", "Nhân", "Hòa", "Thanh", "Tùng", "Kiên", "Chiến", "Quý", "Hậu", "Tú", "Thái",
];
const GIVEN_FEMALE_OLDER: &[&str] = &[
    "Lan", "Hoa", "Mai", "Hằng", "Hương", "Hà", "Hạnh", "Nga", "Dung", "Huyền", "Thủy", "Yến", "Nhung", "Loan",
    "Phương", "Tuyết", "Oanh", "Liên", "Cúc", "Hồng", "Xuân", "Vân", "Thu", "Nhàn", "Thảo", "Trang", "Ngọc", "Tâm",
    "Thơm", "Hiền", "Lệ", "Bích", "Sen", "Đào", "Hòa", "Thanh", "Lý", "Huệ",
];
/// Given names in fashion since the 1990s; some have two words and then take no middle name
/// of their own (`Nguyễn Gia Huy`).
const GIVEN_MALE_NEWER: &[&str] = &[
    "Anh",
    "Huy",
    "Khang",
    "Bảo",
    "Phúc",
    "Khoa",
    "Quân",
    "Duy",
    "Đạt",
    "Khánh",
    "Nam",
    "Minh",
    "An",
    "Long",
    "Kiệt",
    "Lâm",
    "Hưng",
    "Thịnh",
    "Tùng",
    "Vũ",
    "Gia Huy",
    "Minh Khang",
    "Bảo Long",
    "Đăng Khoa",
    "Minh Quân",
    "Gia Bảo",
    "Hoàng Nam",
    "Anh Khoa",
    "Nhật Minh",
    "Đức Anh",
];
const GIVEN_FEMALE_NEWER: &[&str] = &[
    "Linh",
    "Anh",
    "Vy",
    "Nhi",
    "Ngân",
    "Trâm",
    "Uyên",
    "Thư",
    "Giang",
    "Chi",
    "My",
    "Hân",
    "Quỳnh",
    "Trang",
    "Thảo",
    "Châu",
    "Diệp",
    "Ngọc",
    "Phương",
    "An",
    "Khánh Linh",
    "Bảo Anh",
    "Phương Anh",
    "Gia Hân",
    "Bảo Ngọc",
    "Minh Châu",
    "Ngọc Diệp",
    "Thảo Vy",
    "Yến Nhi",
    "Tú Anh",
];

/// The tables, turned into fast weighted picks once per run.
pub(crate) struct Names {
    north: Weighted<&'static str>,
    south: Weighted<&'static str>,
}

impl Names {
    pub(crate) fn new() -> Names {
        let north: Vec<_> = FAMILY.iter().map(|&(n, _, w)| (n, w)).collect();
        let south: Vec<_> = FAMILY.iter().map(|&(_, s, w)| (s, w)).collect();
        Names { north: Weighted::new(&north), south: Weighted::new(&south) }
    }

    /// A family name; `southern` favours Huỳnh and Võ, which are rarer in the north.
    pub(crate) fn family(&self, rng: &mut impl Rng, southern: bool) -> &'static str {
        // One in ten families moved across the country and kept their spelling.
        let south = if chance(rng, 0.1) { !southern } else { southern };
        if south { self.south.pick(rng) } else { self.north.pick(rng) }
    }

    /// A full name for someone of this sex born in this year, family name first.
    pub(crate) fn full_name(&self, rng: &mut impl Rng, family: &str, sex: Sex, birth_year: i32) -> String {
        let (plain_middle, middles, older, newer) = match sex {
            Sex::Male => ("Văn", MIDDLE_MALE, GIVEN_MALE_OLDER, GIVEN_MALE_NEWER),
            Sex::Female => ("Thị", MIDDLE_FEMALE, GIVEN_FEMALE_OLDER, GIVEN_FEMALE_NEWER),
        };
        let (plain_share, newer_share) = match birth_year {
            ..1970 => (0.7, 0.05),
            1970..1990 => (0.5, 0.2),
            1990..2005 => (0.25, 0.5),
            _ => (0.1, 0.75),
        };
        let given = if chance(rng, newer_share) { any(rng, newer) } else { any(rng, older) };
        if given.contains(' ') {
            return format!("{family} {given}");
        }
        let mut middle = if chance(rng, plain_share) { plain_middle } else { any(rng, middles) };
        // No "Minh Minh": draw again (a few times at most; the tables are long).
        for _ in 0..8 {
            if middle != given {
                break;
            }
            middle = any(rng, middles);
        }
        format!("{family} {middle} {given}")
    }
}

/// Any entry of a table of this crate, all equally likely.
pub(crate) fn any(rng: &mut impl Rng, table: &[&'static str]) -> &'static str {
    table.get(rng.gen_range(0..table.len().max(1))).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use outbreak_domain::text::nfc;

    #[test]
    fn tables_are_nfc_and_share_no_blanks() {
        let all = FAMILY
            .iter()
            .flat_map(|(n, s, _)| [*n, *s])
            .chain(MIDDLE_MALE.iter().copied())
            .chain(MIDDLE_FEMALE.iter().copied())
            .chain(GIVEN_MALE_OLDER.iter().copied())
            .chain(GIVEN_FEMALE_OLDER.iter().copied())
            .chain(GIVEN_MALE_NEWER.iter().copied())
            .chain(GIVEN_FEMALE_NEWER.iter().copied());
        for name in all {
            assert_eq!(nfc(name), name);
            assert!(!name.is_empty() && name.trim() == name);
        }
        assert_eq!(FAMILY.iter().map(|f| f.2).sum::<u32>(), 1000);
    }
}
