//! Where demo people live: the province a commune belonged to before the 2025 mergers (the
//! province of birth a CCCD most often carries), neighbourhood names as each region writes
//! them (tổ dân phố, khu phố, thôn, ấp) and street addresses.

use outbreak_domain::Unit;
use rand::Rng;

use crate::names::any;
use crate::pick::chance;

/// The 63 provinces before 2025, by their CCCD code: the first three digits of a CCCD.
pub(crate) const OLD_PROVINCES: [u16; 63] = [
    1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37, 38, 40, 42, 44, 45,
    46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92,
    93, 94, 95, 96,
];

/// The first commune code of each old province, in code order. Commune codes were numbered
/// province by province and the 2025 list kept them, so a code tells its old province. Borders
/// between provinces that stayed apart are checked against the 2025 list by a test; borders
/// inside a merged province are placed before the old capital's first ward, close enough for
/// demo data. Hà Nội appears three times: the old city, Mê Linh and the former Hà Tây.
const OLD_PROVINCE_STARTS: &[(u32, u16)] = &[
    (0, 1),
    (686, 2),
    (1262, 4),
    (1823, 6),
    (2192, 8),
    (2624, 10),
    (3122, 11),
    (3386, 12),
    (3641, 14),
    (4247, 15),
    (4751, 17),
    (5426, 19),
    (5954, 20),
    (6638, 22),
    (7193, 24),
    (7871, 25),
    (8690, 26),
    (8972, 1),
    (9023, 26),
    (9155, 27),
    (9530, 1),
    (10490, 30),
    (11290, 31),
    (11949, 33),
    (12430, 34),
    (13280, 35),
    (13630, 36),
    (14315, 37),
    (14747, 38),
    (16655, 40),
    (18041, 42),
    (18845, 44),
    (19320, 45),
    (19743, 46),
    (20183, 48),
    (20330, 49),
    (21005, 51),
    (21549, 52),
    (22004, 54),
    (22320, 56),
    (22737, 58),
    (22911, 60),
    (23273, 62),
    (23549, 64),
    (24113, 66),
    (24608, 67),
    (24775, 68),
    (25181, 70),
    (25454, 72),
    (25733, 74),
    (25988, 75),
    (26504, 77),
    (26734, 79),
    (27677, 80),
    (28244, 82),
    (28748, 83),
    (29225, 84),
    (29540, 86),
    (29858, 87),
    (30260, 89),
    (30720, 91),
    (31109, 92),
    (31298, 93),
    (31496, 94),
    (31811, 95),
    (31995, 96),
];

/// The old province of a commune, from its five-digit code; `None` for other codes.
pub(crate) fn old_province(commune_code: &str) -> Option<u16> {
    let code: u32 = commune_code.parse().ok().filter(|_| commune_code.len() == 5)?;
    let i = OLD_PROVINCE_STARTS.partition_point(|&(start, _)| start <= code);
    OLD_PROVINCE_STARTS.get(i.checked_sub(1)?).map(|&(_, province)| province)
}

/// Whether names and addresses follow southern habits (Huỳnh, Võ; khu phố, ấp; hẻm): from
/// Đà Nẵng and Quảng Nam southwards.
pub(crate) fn southern(old_province: u16) -> bool {
    old_province >= 48
}

/// What a commune calls its neighbourhoods, by region and by ward or rural commune.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HoodStyle {
    /// The local-code prefix (`TDP` → `00070.TDP3`).
    pub code: &'static str,
    /// The name before the number (`Tổ dân phố 3`).
    pub name: &'static str,
    pub division_type: &'static str,
    pub rural: bool,
}

pub(crate) fn hood_style(commune: &Unit, southern: bool) -> HoodStyle {
    let rural = commune.division_type != "phường";
    let (code, name, division_type) = match (rural, southern) {
        (false, false) => ("TDP", "Tổ dân phố", "tổ dân phố"),
        (false, true) => ("KP", "Khu phố", "khu phố"),
        (true, false) => ("THON", "Thôn", "thôn"),
        (true, true) => ("AP", "Ấp", "ấp"),
    };
    HoodStyle { code, name, division_type, rural }
}

/// Streets named after people and events, found in towns across the country.
const STREETS: &[&str] = &[
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Trãi",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Quang Trung",
    "Lê Duẩn",
    "Nguyễn Huệ",
    "Phan Chu Trinh",
    "Điện Biên Phủ",
    "Hoàng Diệu",
    "Nguyễn Du",
    "Bà Triệu",
    "Lê Thánh Tông",
    "Trần Phú",
    "Võ Thị Sáu",
    "Nguyễn Thị Minh Khai",
    "Hàm Nghi",
    "Tôn Đức Thắng",
    "Nguyễn Đình Chiểu",
    "Cách Mạng Tháng Tám",
    "Đinh Tiên Hoàng",
    "Lý Tự Trọng",
    "Phan Bội Châu",
    "Lê Hồng Phong",
    "Nguyễn Văn Cừ",
    "Trần Quốc Toản",
    "Lê Văn Sỹ",
    "Hùng Vương",
    "Ngô Quyền",
    "Lý Thái Tổ",
    "Phan Đình Phùng",
    "Yết Kiêu",
    "Nguyễn Thái Học",
    "Trần Nhân Tông",
    "Chu Văn An",
    "Hoàng Văn Thụ",
    "Pasteur",
    "Nam Kỳ Khởi Nghĩa",
    "Hàng Bạc",
    "Hàng Bông",
    "Hàng Gai",
];

/// Where in a neighbourhood its households are: one street, house numbers going up.
#[derive(Debug, Clone)]
pub(crate) struct Street {
    name: &'static str,
    next_house: u32,
    lane: u32,
    cluster: u32,
}

impl Street {
    pub(crate) fn new(rng: &mut impl Rng) -> Street {
        Street { name: any(rng, STREETS), next_house: 1, lane: rng.gen_range(2..=200), cluster: rng.gen_range(1..=12) }
    }

    /// The next household's address as it is written on forms.
    pub(crate) fn next_address(&mut self, rng: &mut impl Rng, style: HoodStyle, southern: bool) -> String {
        let house = self.next_house;
        self.next_house += rng.gen_range(1..=3);
        if style.rural {
            // Every so many houses the hamlet's next cluster (xóm, tổ) begins.
            if chance(rng, 0.02) {
                self.cluster += 1;
            }
            let cluster = if southern { "tổ" } else { "xóm" };
            return if chance(rng, 0.5) {
                format!("Số nhà {house}, {cluster} {}", self.cluster)
            } else {
                format!("{} {}", if southern { "Tổ" } else { "Xóm" }, self.cluster)
            };
        }
        if chance(rng, 0.03) {
            self.lane += rng.gen_range(1..=8);
        }
        match (chance(rng, 0.6), southern) {
            (true, false) => format!("Số {house}, ngõ {}, phố {}", self.lane, self.name),
            (true, true) => format!("Số {}/{house} đường {}", self.lane, self.name),
            (false, false) => format!("Số {house} phố {}", self.name),
            (false, true) => format!("Số {house} đường {}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use outbreak_domain::unit::national_units;
    use outbreak_domain::{Cccd, UnitLevel};

    /// The old provinces each 2025 province was made from.
    const MERGED: &[(&str, &[u16])] = &[
        ("01", &[1, 17, 26]),
        ("04", &[4]),
        ("08", &[8, 2]),
        ("11", &[11]),
        ("12", &[12]),
        ("14", &[14]),
        ("15", &[10, 15]),
        ("19", &[19, 6]),
        ("20", &[20]),
        ("22", &[22]),
        ("24", &[24, 27]),
        ("25", &[25, 26, 17]),
        ("31", &[31, 30]),
        ("33", &[33, 34]),
        ("37", &[37, 35, 36]),
        ("38", &[38]),
        ("40", &[40]),
        ("42", &[42]),
        ("44", &[44, 45]),
        ("46", &[46]),
        ("48", &[48, 49]),
        ("51", &[51, 62]),
        ("52", &[52, 64]),
        ("56", &[56, 58]),
        ("66", &[66, 54]),
        ("68", &[68, 67, 60]),
        ("75", &[75, 70]),
        ("79", &[79, 74, 77]),
        ("80", &[80, 72]),
        ("82", &[82, 87]),
        ("86", &[86, 83, 84]),
        ("91", &[91, 89]),
        ("92", &[92, 93, 94]),
        ("96", &[96, 95]),
    ];

    #[test]
    fn every_commune_maps_to_an_old_province_of_its_new_one() {
        for unit in national_units().iter().filter(|u| u.level == UnitLevel::Commune) {
            let province = unit.parent.as_ref().unwrap().as_str();
            let old = old_province(unit.code.as_str()).unwrap();
            let (_, allowed) = MERGED.iter().find(|(p, _)| *p == province).unwrap();
            assert!(allowed.contains(&old), "{} {} in {province} mapped to {old}", unit.code, unit.name);
        }
        assert_eq!(old_province("00070"), Some(1));
        assert_eq!(old_province("26740"), Some(79));
        assert_eq!(old_province("25747"), Some(74));
        assert_eq!(old_province("VN"), None);
    }

    #[test]
    fn old_provinces_are_valid_cccd_prefixes() {
        for province in OLD_PROVINCES {
            assert!(Cccd::parse("cccd", &format!("{province:03}087000001")).is_ok(), "{province}");
        }
        for (_, province) in OLD_PROVINCE_STARTS {
            assert!(OLD_PROVINCES.contains(province));
        }
        assert!(OLD_PROVINCE_STARTS.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
