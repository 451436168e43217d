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
pub(super) type Texts = &'static [(&'static str, &'static str, &'static str)];

/// The catalogs: the common words here, and each area's own beside its pages.
const CATALOGS: &[Texts] = &[
    TEXTS,
    super::testing::TEXTS,
    super::dashboard::TEXTS,
    super::tracing_pages::TEXTS,
    super::zoning::TEXTS,
    super::vaccination::TEXTS,
    super::certificates::TEXTS,
];

const TEXTS: Texts = &[
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
    (
        "error_400",
        "Yêu cầu chưa đúng. Hãy xem lại thông tin đã nhập.",
        "The request is not right. Check what was entered.",
    ),
    ("error_403", "Bạn không có quyền xem hoặc làm việc này.", "You may not see or do this."),
    ("error_404", "Không tìm thấy.", "Not found."),
    ("error_409", "Việc này đã được ghi nhận trước đó.", "This was already recorded."),
    ("error_429", "Quá nhiều lần thử. Hãy đợi một lúc rồi thử lại.", "Too many tries. Wait a while, then try again."),
    ("error_500", "Có lỗi phía máy chủ. Hãy thử lại sau.", "Something went wrong on our side. Try again later."),
    ("error_detail", "Chi tiết", "Details"),
    (
        "why_phone",
        "phải là số điện thoại Việt Nam, ví dụ 0912345678 hoặc +84912345678",
        "must be a Vietnamese number such as 0912345678 or +84912345678",
    ),
    ("why_required", "chưa được nhập", "is required"),
    (
        "signin_code_wrong",
        "Mã không đúng hoặc đã hết hạn; hãy xin mã mới.",
        "The code is wrong or has expired; ask for a new one.",
    ),
    ("why_too_long", "quá dài", "is too long"),
    ("why_in_future", "không thể là thời điểm trong tương lai", "cannot be in the future"),
    ("why_too_old", "đã quá thời hạn lưu giữ", "is older than the retention period"),
    (
        "why_rate_limited",
        "quá nhiều lần thử; hãy đợi một lúc rồi thử lại",
        "too many tries; wait a while and try again",
    ),
    ("back_home", "Về trang chủ", "Back to the start"),
    ("notice_title", "Bạn có thể đã tiếp xúc với ca bệnh", "You may have been in contact with a case"),
    ("notice_close_contact", "Tiếp xúc gần (F1) với ca bệnh", "Close contact (F1) of a case"),
    ("notice_contact_of_contact", "Tiếp xúc với người tiếp xúc gần (F2)", "Contact of a close contact (F2)"),
    ("notice_exposed_venue", "Đã ở địa điểm được công bố có nguy cơ lây nhiễm", "Was at a place declared exposed"),
    ("notice_on", "ngày", "on"),
    ("notice_you_were_there", "bạn ở đó", "you were there"),
    (
        "notice_isolate",
        "Hãy tự cách ly tại nhà, theo dõi sức khoẻ và liên hệ trạm y tế xã/phường. Cách ly đến hết",
        "Self-isolate at home, watch your health and call your health station. Isolate until",
    ),
    (
        "notice_watch",
        "Hãy hạn chế đi lại, theo dõi sức khoẻ và liên hệ trạm y tế nếu có triệu chứng. Theo dõi đến hết",
        "Limit your movements, watch your health and call your health station if you have symptoms. Watch until",
    ),
    ("notice_tests", "Ngày xét nghiệm", "Test days"),
    ("notice_status", "Trạng thái theo dõi", "Follow-up"),
    (
        "bad_link",
        "Không có trang nào ở đường dẫn này: có thể đường dẫn bị cắt mất hoặc gõ nhầm.",
        "There is no page at this address: the link may have been cut short or mistyped.",
    ),
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
    ("venues", "Địa điểm", "Venues"),
    ("venue", "Địa điểm", "Venue"),
    ("my_venues", "Địa điểm của tôi", "My venues"),
    (
        "no_venues",
        "Chưa có địa điểm nào. Đăng ký để in áp phích QR cho khách check-in.",
        "No venues yet. Register one to print a QR poster for visitors to check in.",
    ),
    ("register_venue", "Đăng ký địa điểm", "Register a venue"),
    ("venue_name", "Tên địa điểm (hoặc tuyến xe)", "Name of the venue (or bus route)"),
    ("venue_kind", "Loại địa điểm", "Kind of venue"),
    ("plate", "Biển số (chỉ với xe buýt, phương tiện)", "Licence plate (buses and vehicles only)"),
    ("plate_short", "Biển số", "Licence plate"),
    ("venue_unit", "Xã/phường hoặc tổ dân phố (tên hoặc mã)", "Commune, ward or neighbourhood (name or code)"),
    (
        "venue_unit_hint",
        "Ví dụ: Hoàn Kiếm hoặc 00070. Với xe: nơi xe đăng ký hoạt động.",
        "For example Hoàn Kiếm or 00070. For a vehicle: where it is based.",
    ),
    ("contact_phone", "Số điện thoại liên hệ", "Contact phone"),
    ("venue_code", "Mã địa điểm", "Venue code"),
    ("inactive", "Đã ngừng nhận check-in", "No longer takes check-ins"),
    (
        "deactivated_note",
        "Địa điểm này đã ngừng nhận check-in. Mở lại bằng nút bên dưới.",
        "This venue no longer takes check-ins. Reopen it with the button below.",
    ),
    ("today_count", "lượt check-in hôm nay", "check-ins today"),
    ("flagged_arrivals", "Khách khai báo có dấu hiệu hôm nay", "Flagged arrivals today"),
    (
        "flagged_arrivals_help",
        "Những khách này khai có triệu chứng hoặc đã tiếp xúc F0. Hướng dẫn họ đeo khẩu trang, tách khỏi đám đông và liên hệ trạm y tế.",
        "These visitors declared symptoms or contact with an F0. Ask them to wear a mask, keep away from others and contact the health station.",
    ),
    ("no_flagged", "Hôm nay chưa có khách nào khai báo triệu chứng.", "Nobody declared symptoms today."),
    ("refresh", "Tải lại", "Refresh"),
    ("f0_contact", "tiếp xúc F0", "contact with an F0"),
    ("poster", "Áp phích QR", "QR poster"),
    ("print_poster", "In áp phích QR (A4)", "Print the QR poster (A4)"),
    ("deactivate", "Ngừng nhận check-in", "Stop taking check-ins"),
    ("reactivate", "Nhận check-in trở lại", "Take check-ins again"),
    ("checkin_visitor", "Check-in cho khách", "Check a visitor in"),
    (
        "checkin_visitor_help",
        "Cho khách không có điện thoại: nhập số CCCD (12 số) hoặc số thẻ BHYT. Trang chỉ báo đã check-in, không hiện thông tin của khách.",
        "For visitors without a phone: type their CCCD (12 digits) or health-insurance number. The page only confirms the check-in; it never shows who it is.",
    ),
    ("visitor_id", "Số CCCD hoặc số thẻ BHYT", "CCCD or health-insurance number"),
    ("check_in", "Check-in", "Check in"),
    ("checked_in", "Đã check-in ✓", "Checked in ✓"),
    (
        "repeat_visit",
        "Lượt này đã được ghi trong 30 phút qua nên chỉ tính một lần.",
        "This visit was already recorded in the last 30 minutes, so it counts once.",
    ),
    ("checkin_mode", "Check-in bằng camera điện thoại", "Check in with the phone camera"),
    (
        "checkin_mode_help",
        "Bật chế độ check-in, rồi dùng camera điện thoại quét mã QR cá nhân hoặc thẻ QR của khách: mỗi lần quét là một lượt check-in tại đây.",
        "Turn check-in mode on, then scan visitors' personal QR codes or printed QR cards with this phone's camera: each scan checks the visitor in here.",
    ),
    (
        "checkin_mode_on",
        "Điện thoại này đang ở chế độ check-in cho địa điểm này.",
        "This phone is in check-in mode for this venue.",
    ),
    ("start_checkin_mode", "Bật chế độ check-in", "Start check-in mode"),
    ("leave_checkin_mode", "Tắt chế độ check-in", "Leave check-in mode"),
    ("visitor_log", "Danh sách khách", "Visitor log"),
    (
        "visitor_log_help",
        "Chỉ dùng cho truy vết. Mỗi lần xem đều được ghi vào nhật ký truy cập.",
        "For tracing only. Every view is written to the audit log.",
    ),
    ("date", "Ngày", "Date"),
    ("show", "Xem", "Show"),
    ("arrived", "Đến lúc", "Arrived"),
    ("left", "Rời đi (hoặc dự kiến)", "Left (or expected to)"),
    ("source", "Cách check-in", "How"),
    ("source_poster", "Quét áp phích", "Scanned the poster"),
    ("source_staff", "Nhân viên check-in", "Checked in by staff"),
    ("source_api", "Hệ thống cổng", "Gate system"),
    ("no_visitors", "Không có lượt check-in nào trong ngày này.", "No check-ins on this day."),
    ("back_to_venue", "← Về trang địa điểm", "← Back to the venue"),
    ("kind_office", "Văn phòng, cơ quan", "Office"),
    ("kind_factory", "Nhà máy, xí nghiệp", "Factory"),
    ("kind_shop", "Cửa hàng", "Shop"),
    ("kind_market", "Chợ", "Market"),
    ("kind_restaurant", "Nhà hàng, quán ăn", "Restaurant"),
    ("kind_school", "Trường học", "School"),
    ("kind_hospital", "Bệnh viện, cơ sở y tế", "Hospital or clinic"),
    ("kind_bus", "Xe buýt, xe khách", "Bus or coach"),
    ("kind_vehicle", "Phương tiện khác", "Other vehicle"),
    ("kind_fruit_weighing_point", "Điểm cân trái cây", "Fruit weighing point"),
    ("kind_place_of_worship", "Cơ sở tôn giáo", "Place of worship"),
    ("kind_other", "Địa điểm khác", "Other"),
    ("poster_title", "Quét mã QR để check-in và khai báo y tế", "Scan the QR code to check in and declare your health"),
    ("poster_step1", "Mở camera điện thoại, hướng vào mã QR.", "Open your phone's camera and point it at the QR code."),
    (
        "poster_step2",
        "Chạm vào đường dẫn hiện ra. Không cần cài ứng dụng.",
        "Tap the link that appears. No app needed.",
    ),
    (
        "poster_step3",
        "Chạm nút Check-in (hoặc nhập số điện thoại và họ tên), rồi khai báo y tế.",
        "Tap Check in (or type your phone number and name), then declare your health.",
    ),
    (
        "poster_no_phone",
        "Không có điện thoại thông minh? Đưa thẻ QR cá nhân, CCCD hoặc thẻ BHYT cho nhân viên.",
        "No smartphone? Show your personal QR card, CCCD or health-insurance card to the staff.",
    ),
    ("checkin_at", "Check-in tại", "Checking in at"),
    ("checkin_one_tap", "Chạm một lần để check-in:", "One tap to check in:"),
    (
        "checkin_with_phone",
        "Nhập số điện thoại và họ tên để check-in. Sau này đăng nhập bằng số này để xem lại lượt check-in.",
        "Type your phone number and name to check in. Sign in later with this phone to see the visit.",
    ),
    (
        "or_sign_in",
        "Đã đăng ký? Đăng nhập để check-in bằng một lần chạm",
        "Registered? Sign in to check in with one tap",
    ),
    (
        "staff_here",
        "Bạn đang đăng nhập bằng tài khoản cán bộ. Để check-in cho khách, mở trang địa điểm:",
        "You are signed in as staff. To check visitors in, open the venue's page:",
    ),
    (
        "signin_later",
        "Đăng nhập sau bằng số điện thoại này để xem lại lượt check-in:",
        "Sign in later with this phone number to see the visit:",
    ),
    ("see_diary", "Xem nhật ký check-in của tôi", "See my check-in diary"),
    ("venue_unknown_title", "Không có địa điểm mã", "No venue with code"),
    (
        "venue_unknown",
        "Không tìm thấy địa điểm với mã này. Kiểm tra lại mã in trên áp phích, hoặc hỏi nhân viên.",
        "No venue has this code. Check the code printed on the poster, or ask the staff.",
    ),
    (
        "venue_closed",
        "Địa điểm này không còn nhận check-in. Lượt quét này không được ghi lại.",
        "This venue no longer takes check-ins. This scan was not recorded.",
    ),
    (
        "venue_closed_help",
        "Nếu bạn đang ở đây, hãy báo nhân viên. Bạn vẫn có thể khai báo y tế riêng.",
        "If you are here, tell the staff. You can still make a health declaration on its own.",
    ),
    ("health_declaration", "Khai báo y tế", "Health declaration"),
    (
        "declaration_help",
        "Khai báo trung thực giúp khoanh vùng dịch nhanh và hẹp.",
        "Honest answers help contain the outbreak quickly and narrowly.",
    ),
    ("symptoms", "Triệu chứng trong 14 ngày qua", "Symptoms in the last 14 days"),
    ("symptom_fever", "Sốt", "Fever"),
    ("symptom_cough", "Ho", "Cough"),
    ("symptom_shortness_of_breath", "Khó thở", "Shortness of breath"),
    ("symptom_loss_of_taste_or_smell", "Mất vị giác hoặc khứu giác", "Loss of taste or smell"),
    ("symptom_sore_throat", "Đau họng", "Sore throat"),
    ("symptom_fatigue", "Mệt mỏi", "Fatigue"),
    ("symptom_muscle_pain", "Đau nhức cơ", "Muscle pain"),
    ("symptom_diarrhoea", "Tiêu chảy", "Diarrhoea"),
    (
        "f0_contact_question",
        "Trong 14 ngày qua tôi đã tiếp xúc gần với người mắc bệnh (F0)",
        "In the last 14 days I was in close contact with a confirmed case (F0)",
    ),
    ("places_visited", "Những nơi đã đến trong 14 ngày qua", "Places visited in the last 14 days"),
    ("movement", "Khai báo di chuyển nội địa", "Domestic movement declaration"),
    ("from_unit", "Đi từ (xã/phường, tên hoặc mã)", "From (commune or ward, name or code)"),
    ("to_unit", "Đến (xã/phường, tên hoặc mã)", "To (commune or ward, name or code)"),
    ("travel_date", "Ngày đi", "Date of travel"),
    ("vehicle", "Phương tiện (ví dụ: xe khách 51B-123.45)", "Vehicle (for example: coach 51B-123.45)"),
    ("send_declaration", "Gửi khai báo", "Send the declaration"),
    ("declare_alone", "Khai báo y tế, di chuyển", "Health or travel declaration"),
    ("declared", "Đã gửi khai báo. Cảm ơn bạn!", "Declaration sent. Thank you!"),
    ("flagged_title", "Cần lưu ý", "Attention"),
    ("flagged_show_staff", "Hãy đưa màn hình này cho nhân viên tại địa điểm.", "Show this screen to the venue staff."),
    (
        "flagged_help",
        "Bạn khai có triệu chứng hoặc đã tiếp xúc F0: đeo khẩu trang, giữ khoảng cách và liên hệ trạm y tế xã/phường.",
        "You declared symptoms or contact with an F0: wear a mask, keep your distance and contact your commune health station.",
    ),
    (
        "flagged_station",
        "Trạm y tế xã/phường đã nhận khai báo của bạn và có thể gọi cho bạn.",
        "Your commune health station has received your declaration and may call you.",
    ),
    ("scan_checked_in", "Đã check-in tại", "Checked in at"),
    ("scan_failed", "Chưa check-in được", "Not checked in"),
    (
        "scan_next",
        "Quét mã QR của khách tiếp theo bằng camera điện thoại.",
        "Scan the next visitor's QR code with the phone camera.",
    ),
    (
        "confirm_scan",
        "Đường dẫn này được mở từ nơi khác. Xác nhận check-in khách này tại",
        "This link was opened from elsewhere. Confirm this visitor's check-in at",
    ),
    ("diary", "Nhật ký", "Diary"),
    ("my_diary", "Nhật ký check-in và khai báo (21 ngày)", "My check-ins and declarations (21 days)"),
    ("checkins", "Lượt check-in", "Check-ins"),
    ("my_declarations", "Khai báo y tế", "Health declarations"),
    ("no_checkins", "Chưa có lượt check-in nào trong 21 ngày qua.", "No check-ins in the last 21 days."),
    ("no_declarations", "Chưa có khai báo nào trong 21 ngày qua.", "No declarations in the last 21 days."),
    ("no_symptoms", "Không có triệu chứng", "No symptoms"),
    ("check_out", "Check-out (đã rời đi)", "Check out (I left)"),
    ("flagged_declarations", "Khai báo cần lưu ý", "Flagged declarations"),
    (
        "flagged_declarations_help",
        "Khai báo có triệu chứng hoặc tiếp xúc F0 trong 3 ngày qua tại địa bàn của bạn, mới nhất trước. Mỗi lần xem đều được ghi nhật ký.",
        "Declarations with symptoms or contact with an F0 in your units in the last 3 days, newest first. Every view is audited.",
    ),
    (
        "no_flagged_declarations",
        "Không có khai báo cần lưu ý trong 3 ngày qua.",
        "No flagged declarations in the last 3 days.",
    ),
];

fn entries() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    CATALOGS.iter().flat_map(|texts| texts.iter())
}

pub fn text(lang: Lang, key: &str) -> &'static str {
    match entries().find(|(k, _, _)| *k == key) {
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
                assert!(entries().any(|(k, _, _)| *k == key), "missing text {key:?}");
                checked += 1;
            }
        }
        assert!(checked > 50);
        let mut keys: Vec<_> = entries().map(|(k, _, _)| k).collect();
        keys.sort();
        let twice: Vec<_> = keys.windows(2).filter(|pair| pair[0] == pair[1]).map(|pair| pair[0]).collect();
        assert!(twice.is_empty(), "listed twice: {twice:?}");
    }
}
