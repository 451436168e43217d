//! The pages' words in Vietnamese and English. Keys are checked by a test against every
//! template, so a page never shows a missing text.

use axum::http::request::Parts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The language chosen now (`?lang=`), else remembered in the cookie, else Vietnamese.
    pub fn from_parts(parts: &Parts) -> Lang {
        if let Some(lang) = parts.extensions.get::<super::Chosen>().and_then(|c| c.lang) {
            return lang;
        }
        match crate::cookies::get(&parts.headers, crate::cookies::LANG) {
            Some("en") => Lang::En,
            _ => Lang::Vi,
        }
    }
}

/// `(key, Vietnamese, English)`.
const TEXTS: &[(&str, &str, &str)] = &[
    ("app_name", "Outbreak — Phòng chống dịch", "Outbreak — Epidemic response"),
    (
        "tagline",
        "Khai báo, xét nghiệm, tiêm chủng và truy vết trên một nền tảng.",
        "Declarations, testing, vaccination and tracing on one platform.",
    ),
    ("citizen_signin", "Người dân đăng nhập", "Citizen sign-in"),
    ("staff_signin", "Cán bộ đăng nhập", "Staff sign-in"),
    ("sign_out", "Đăng xuất", "Sign out"),
    ("phone", "Số điện thoại", "Phone number"),
    ("send_code", "Gửi mã", "Send code"),
    ("code_sent", "Mã đăng nhập đã được gửi qua SMS tới", "A sign-in code was sent by SMS to"),
    ("code", "Mã 6 chữ số", "6-digit code"),
    ("verify", "Đăng nhập", "Sign in"),
    ("username", "Tên đăng nhập", "Username"),
    ("password", "Mật khẩu", "Password"),
    ("my_qr", "Mã QR cá nhân", "Personal QR"),
    (
        "my_qr_help",
        "Đưa mã này cho cán bộ y tế quét khi xét nghiệm, tiêm chủng hoặc khai báo. Mã không chứa thông tin cá nhân.",
        "Show this code to health staff for testing, vaccination or check-in. It holds no personal data.",
    ),
    ("print_card", "In thẻ QR", "Print QR card"),
    (
        "no_person",
        "Chưa có hồ sơ nào gắn với số điện thoại này. Hãy khai báo thông tin của bạn:",
        "No record is linked to this phone yet. Register yourself:",
    ),
    ("register", "Đăng ký", "Register"),
    ("full_name", "Họ và tên", "Full name"),
    ("date_of_birth", "Ngày sinh (YYYY-MM-DD hoặc năm)", "Date of birth (YYYY-MM-DD or year)"),
    ("born", "Ngày sinh", "Date of birth"),
    ("sex", "Giới tính", "Sex"),
    ("male", "Nam", "Male"),
    ("female", "Nữ", "Female"),
    ("cccd", "Số CCCD", "Citizen ID (CCCD)"),
    ("insurance_number", "Số thẻ BHYT", "Health-insurance number"),
    ("address_unit", "Mã đơn vị hành chính (xã/phường hoặc tổ dân phố)", "Unit code (commune or neighbourhood)"),
    ("street", "Số nhà, đường", "House number and street"),
    ("household", "Mã hộ gia đình", "Household code"),
    ("save", "Lưu", "Save"),
    ("staff_home", "Trang cán bộ", "Staff home"),
    ("your_roles", "Vai trò của bạn", "Your roles"),
    ("search_people", "Tìm người", "Find people"),
    (
        "search_hint",
        "Họ tên (có hoặc không dấu), CCCD, số điện thoại hoặc BHYT",
        "Name (with or without diacritics), CCCD, phone or insurance number",
    ),
    ("search", "Tìm", "Search"),
    ("new_person", "Thêm người", "Add a person"),
    ("no_results", "Không tìm thấy ai trong địa bàn của bạn.", "Nobody found in your jurisdiction."),
    ("address", "Địa chỉ", "Address"),
    ("edit", "Sửa", "Edit"),
    ("reissue_qr", "Thu hồi và cấp lại mã QR", "Revoke and reissue QR"),
    (
        "reissue_help",
        "Mọi thẻ QR đã in của người này sẽ không còn dùng được.",
        "Every printed QR card of this person stops working.",
    ),
    (
        "scan_staff_only",
        "Đây là mã QR cá nhân của Outbreak. Chỉ cán bộ y tế đã đăng nhập mới mở được.",
        "This is an Outbreak personal QR. Only signed-in health staff can open it.",
    ),
    ("admin", "Quản trị", "Admin"),
    ("units", "Đơn vị hành chính", "Administrative units"),
    ("accounts", "Tài khoản", "Accounts"),
    ("audit_log", "Nhật ký truy cập", "Audit log"),
    ("children", "Đơn vị trực thuộc", "Units below"),
    ("add_unit", "Thêm đơn vị trực thuộc", "Add a unit below"),
    ("local_code", "Mã (vd. TDP3)", "Code (e.g. TDP3)"),
    ("name", "Tên", "Name"),
    ("division_type", "Loại (tổ dân phố, thôn, hộ…)", "Type (neighbourhood, hamlet, household…)"),
    ("population", "Dân số", "Population"),
    (
        "import_population",
        "Nhập dân số từ CSV (cột code, population)",
        "Import population from CSV (columns code, population)",
    ),
    ("import", "Nhập", "Import"),
    ("create_account", "Tạo tài khoản", "Create account"),
    ("display_name", "Tên hiển thị", "Display name"),
    ("role", "Vai trò", "Role"),
    ("unit", "Đơn vị", "Unit"),
    ("system_account", "Tài khoản hệ thống (dùng API token)", "System account (uses API tokens)"),
    ("disabled", "Đã khoá", "Disabled"),
    ("when", "Thời gian", "When"),
    ("who", "Người thực hiện", "Who"),
    ("action", "Hành động", "Action"),
    ("record", "Bản ghi", "Record"),
    ("from_address", "Địa chỉ mạng", "Network address"),
    ("filter", "Lọc", "Filter"),
    ("older", "Cũ hơn →", "Older →"),
    ("error", "Có lỗi", "Something is wrong"),
    ("back_home", "Về trang chủ", "Back to the start"),
    ("card_title", "Thẻ QR cá nhân", "Personal QR card"),
    (
        "card_help",
        "Xuất trình thẻ này khi khai báo, xét nghiệm hoặc tiêm chủng.",
        "Show this card for check-in, testing or vaccination.",
    ),
    ("print", "In", "Print"),
    ("created", "Đã lưu.", "Saved."),
    ("language", "English", "Tiếng Việt"),
    (
        "admin_accounts_hint",
        "Mật khẩu ít nhất 10 ký tự. Vai trò áp dụng cho đơn vị và mọi đơn vị trực thuộc.",
        "Passwords have at least 10 characters. A role covers its unit and everything below it.",
    ),
    ("role_admin", "Quản trị", "Admin"),
    ("role_health_officer", "Cán bộ y tế", "Health officer"),
    ("role_tracer", "Truy vết", "Tracer"),
    ("role_sampler", "Lấy mẫu", "Sampler"),
    ("role_lab_technician", "Xét nghiệm viên", "Lab technician"),
    ("role_vaccinator", "Tiêm chủng", "Vaccinator"),
    ("role_organisation_manager", "Quản lý tổ chức", "Organisation manager"),
    ("role_venue_owner", "Chủ địa điểm", "Venue owner"),
    (
        "offline_note",
        "Mã QR vẫn hiện khi mất mạng nếu bạn đã mở trang này trước đó.",
        "The QR still shows offline once you have opened this page.",
    ),
];

pub fn text(lang: Lang, key: &str) -> &'static str {
    match TEXTS.iter().find(|(k, _, _)| *k == key) {
        Some((_, vi, en)) => match lang {
            Lang::Vi => vi,
            Lang::En => en,
        },
        None => {
            tracing::warn!(key, "missing page text");
            "?"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `t("…")` in a template names a text that exists, and no key is listed twice.
    #[test]
    fn templates_use_known_texts() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for piece in source.split("t(\"").skip(1) {
                let key = piece.split('"').next().unwrap();
                assert!(TEXTS.iter().any(|(k, _, _)| *k == key), "missing text {key:?}");
                checked += 1;
            }
        }
        assert!(checked > 50);
        let mut keys: Vec<_> = TEXTS.iter().map(|(k, _, _)| k).collect();
        keys.sort();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len(), "a key is listed twice");
    }
}
