/* Beacon status page: enhancements only; the page is complete without this script. */
(function () {
  "use strict";
  var asOf = document.getElementById("asof");
  var stale = document.getElementById("stale");
  if (asOf && stale) {
    var generated = Date.parse(asOf.getAttribute("data-generated"));
    var limit = Number(asOf.getAttribute("data-stale-after")) * 1000;
    // A page in another language carries its words (data-minutes ...); English is the default.
    var unit = function (name, n) {
      var words = stale.getAttribute("data-" + name);
      return words ? words.replace("{n}", n) : n + " " + name;
    };
    var age = function (ms) {
      var minutes = Math.round(ms / 60000);
      if (minutes < 120) return unit("minutes", minutes);
      var hours = Math.round(minutes / 60);
      return hours < 48 ? unit("hours", hours) : unit("days", Math.round(hours / 24));
    };
    var check = function () {
      var elapsed = Date.now() - generated;
      if (elapsed > limit) {
        stale.querySelector("span").textContent = age(elapsed);
        stale.hidden = false;
      }
    };
    check();
    setInterval(check, 30000);
  }

  // While the tab is open, look for newer data once a minute and offer a reload (never
  // reload by itself: a reader may be typing into the form).
  var newer = document.getElementById("newer");
  if (asOf && newer && window.fetch) {
    var known = asOf.getAttribute("data-updated");
    var statusUrl = asOf.getAttribute("data-status") || "api/v2/status.json";
    setInterval(function () {
      if (document.hidden || !newer.hidden) return;
      fetch(statusUrl, { cache: "no-cache" }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (data) {
        if (data && data.page && data.page.updated_at !== known) newer.hidden = false;
      }).catch(function () {});
    }, 60000);
  }

  var form = document.getElementById("subscribe");
  var result = document.getElementById("sub-result");
  var say = function (name, english) {
    return (form && form.getAttribute("data-" + name)) || english;
  };
  var postJson = function (url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        return { ok: response.ok, answer: answer };
      });
    });
  };
  // SMS sign-ups are confirmed with a 6-digit code: ask for it right here.
  var askForCode = function (verifyUrl) {
    if (!/^https?:\/\//.test(verifyUrl) || document.getElementById("sub-code")) return;
    var box = document.createElement("form");
    box.className = "sub";
    box.innerHTML = '<label for="sub-code"></label>' +
      '<input id="sub-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" ' +
      'pattern="[0-9 ]{6,7}" maxlength="7" required>' +
      '<button type="submit"></button>';
    box.querySelector("label").textContent = say("code", "6-digit code from the SMS");
    box.querySelector("button").textContent = say("confirm", "Confirm");
    result.parentNode.insertBefore(box, result.nextSibling);
    box.addEventListener("submit", function (event) {
      event.preventDefault();
      postJson(verifyUrl, { code: box.elements.code.value.trim() }).then(function (reply) {
        result.textContent = reply.answer.message ||
          (reply.ok ? say("subscribed", "You are subscribed.") : say("wrong", "That code did not work."));
        if (reply.ok) box.parentNode.removeChild(box);
      }).catch(function () {
        result.textContent = say("offline", "We could not reach the sign-up service. Try again in a minute.");
      });
    });
  };
  if (form && result && window.fetch && window.FormData) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var body = { components: data.getAll("components") };
      var email = String(data.get("email") || "").trim();
      var phone = String(data.get("phone") || "").trim();
      if (email) body.email = email;
      if (phone) body.phone = phone;
      if (data.get("language")) body.language = data.get("language");
      if (!email && !phone) {
        result.textContent = say("empty", "Enter an email address or a mobile number.");
        return;
      }
      var button = form.querySelector("button");
      button.disabled = true;
      result.textContent = say("sending", "Sending…");
      postJson(form.action, body).then(function (reply) {
        button.disabled = false;
        result.textContent = reply.answer.message || reply.answer.Message ||
          (reply.ok ? say("sent", "Almost done: follow the link we just sent to confirm.") :
                      say("failed", "That did not work; check what you entered and try again."));
        if (reply.ok) {
          form.reset();
          if (reply.answer.verify_url) askForCode(reply.answer.verify_url);
        }
      }).catch(function () {
        // Network or cross-origin trouble: the plain form post still works.
        button.disabled = false;
        form.submit();
      });
    });
  }
})();
