//! Steps that browser tests take on Outbreak's pages, each waiting for the page it leads to,
//! so that no test races a navigation on a slow machine.

use fantoccini::{Client, Locator};

use super::TestServer;

pub async fn fill(client: &Client, css: &str, text: &str) {
    let field = client.wait().for_element(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

pub async fn click(client: &Client, css: &str) {
    client.wait().for_element(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

/// The text of the first element matching `css`, waiting for it to appear.
pub async fn text(client: &Client, css: &str) -> String {
    client.wait().for_element(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

pub async fn attr(client: &Client, css: &str, name: &str) -> String {
    let element = client.wait().for_element(Locator::Css(css)).await.unwrap();
    element.attr(name).await.unwrap().unwrap_or_else(|| panic!("{css} has no {name}"))
}

pub async fn goto(client: &Client, url: &str) {
    client.goto(url).await.unwrap();
}

/// Saves what the browser shows, for people reviewing a failure.
pub async fn screenshot(client: &Client, name: &str) {
    if let Ok(png) = client.screenshot().await {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }
}

/// Signs a citizen in with the code the SMS gateway logged, ending on their own page.
pub async fn citizen_sign_in(client: &Client, server: &TestServer, typed: &str, e164: &str) {
    goto(client, &format!("{}/signin", server.url)).await;
    fill(client, "#phone", typed).await;
    click(client, "#send-code").await;
    client.wait().for_element(Locator::Css("#code")).await.unwrap();
    let code = server.last_code(e164).expect("the code reached the SMS log");
    fill(client, "#code", &code).await;
    click(client, "#verify").await;
    client.wait().for_element(Locator::Css("#diary-link")).await.unwrap();
}

/// Signs staff in, ending on the staff home with its search form.
pub async fn staff_sign_in(client: &Client, server: &TestServer, username: &str, password: &str) {
    goto(client, &format!("{}/staff/signin", server.url)).await;
    fill(client, "#username", username).await;
    fill(client, "#password", password).await;
    click(client, "#staff-sign-in").await;
    client.wait().for_element(Locator::Css("form.search")).await.unwrap();
}

/// Signs out from any page, ending on the home page.
pub async fn sign_out(client: &Client, server: &TestServer) {
    click(client, "form[action='/signout'] button").await;
    client.wait().for_url(&format!("{}/", server.url).parse().unwrap()).await.unwrap();
}

/// Waits until the element's text satisfies `ok`, for pages that change by themselves
/// (scripts filling in content, live dashboards).
pub async fn wait_text(client: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..150 {
        if let Ok(element) = client.find(Locator::Css(css)).await {
            last = element.text().await.unwrap_or_default();
            if ok(&last) {
                return last;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css} never showed what was expected; last: {last:?}");
}
