// The phone's flow in a browser: send the photo, poll the status, show the result.
// Plain script with no build step and no other origin, so the page works offline.
"use strict";

(function () {
  const STRINGS = {
    ko: {
      title: "분리배출 도우미",
      intro: "쓰레기 사진을 찍으면 무엇인지, 어떻게 버리는지, 가까운 수거함이 어디인지 알려 드려요.",
      language_toggle: "English",
      start_heading: "사진으로 알아보기",
      location_button: "내 위치 사용",
      location_none: "위치 없이 진행하면 근처 수거함은 찾지 않아요.",
      location_asking: "위치를 확인하는 중...",
      location_set: "내 위치를 사용해요 (오차 약 {accuracy} m).",
      location_failed: "위치를 가져오지 못했어요. 위치 없이 진행해요.",
      location_unsupported: "이 브라우저는 위치를 알려 주지 않아요. 위치 없이 진행해요.",
      photo_button: "사진 찍기 또는 고르기",
      photo_hint: "물건 하나가 잘 보이게 찍어 주세요.",
      progress_heading: "분석 중",
      sending: "사진을 보내는 중...",
      queue_position: "대기 순서: {position}번째",
      stage_upload: "사진 업로드",
      stage_queue: "처리 순서 기다리기",
      stage_download: "이미지 다운로드",
      stage_cache: "캐시 확인",
      stage_preprocess: "이미지 전처리",
      stage_vision: "AI 비전 분석",
      stage_feedback: "배출 방법 안내 작성",
      stage_bins: "근처 수거함 검색",
      stage_done: "완료! 결과를 확인해 주세요.",
      step_state_done: "완료",
      step_state_current: "진행 중",
      step_state_waiting: "대기",
      result_heading: "결과",
      confidence: "신뢰도 {percent}%",
      picked_by_user: "직접 고른 분류",
      provider: "분석: {provider}",
      steps_heading: "배출 방법",
      cautions_heading: "주의할 점",
      bins_heading: "가까운 수거함",
      no_bins: "보여 드릴 수거함이 없어요.",
      distance: "{metres} m",
      source: "출처: {source}",
      reference_date: "기준일: {date}",
      reference_date_unknown: "기준일: 미상",
      map_kakao: "카카오맵에서 보기",
      map_naver: "네이버 지도에서 보기",
      ai_language_note: "AI가 쓴 안내는 분석할 때의 언어로 보여요.",
      new_photo: "다른 사진 해 보기",
      pick_heading: "분류를 직접 골라 주세요",
      pick_intro_unknown: "사진 속 물건을 알아보지 못했어요. 가장 가까운 분류를 고르면 버리는 방법과 수거함을 알려 드려요.",
      pick_intro_unsure: "분석 결과가 확실하지 않아요 (신뢰도 {percent}%). 다른 물건이라면 분류를 직접 골라 주세요.",
      loading_advice: "안내를 불러오는 중...",
      error_heading: "처리하지 못했어요",
      retry: "다시 시도",
      error_network: "서버에 연결할 수 없어요. 연결을 확인하고 다시 시도해 주세요.",
      error_timeout: "2분 안에 결과가 나오지 않았어요. 다시 시도해 주세요.",
      error_unexpected: "서버가 예상하지 못한 응답을 보냈어요 (HTTP {status}). 다시 시도해 주세요.",
      docs_link: "API 문서",
    },
    en: {
      title: "Waste sorting helper",
      intro: "Take a photo of an item to see what it is, how to dispose of it under Korean rules and where the nearest collection points are.",
      language_toggle: "한국어",
      start_heading: "Identify it from a photo",
      location_button: "Use my location",
      location_none: "Without a location, nearby collection points are not searched.",
      location_asking: "Getting your location...",
      location_set: "Using your location (accurate to about {accuracy} m).",
      location_failed: "Could not get your location. Continuing without it.",
      location_unsupported: "This browser cannot share a location. Continuing without it.",
      photo_button: "Take or choose a photo",
      photo_hint: "Show one item clearly.",
      progress_heading: "Analysing",
      sending: "Sending the photo...",
      queue_position: "Position in the queue: {position}",
      stage_upload: "Photo upload",
      stage_queue: "Waiting in the queue",
      stage_download: "Download the image",
      stage_cache: "Check the cache",
      stage_preprocess: "Preprocess the image",
      stage_vision: "AI vision analysis",
      stage_feedback: "Write the disposal advice",
      stage_bins: "Search nearby collection points",
      stage_done: "Done. The result is below.",
      step_state_done: "done",
      step_state_current: "in progress",
      step_state_waiting: "waiting",
      result_heading: "Result",
      confidence: "Confidence {percent}%",
      picked_by_user: "Category picked by you",
      provider: "Analysed by: {provider}",
      steps_heading: "How to dispose of it",
      cautions_heading: "Watch out for",
      bins_heading: "Nearest collection points",
      no_bins: "No collection points to show.",
      distance: "{metres} m",
      source: "Source: {source}",
      reference_date: "Reference date: {date}",
      reference_date_unknown: "Reference date: unknown",
      map_kakao: "Open in Kakao Map",
      map_naver: "Open in Naver Map",
      ai_language_note: "Advice written by the AI stays in the language of the analysis.",
      new_photo: "Try another photo",
      pick_heading: "Pick the category yourself",
      pick_intro_unknown: "The item in the photo was not recognised. Pick the closest category to see how to dispose of it and where.",
      pick_intro_unsure: "The answer is not certain (confidence {percent}%). If the item is something else, pick its category.",
      loading_advice: "Loading the advice...",
      error_heading: "Something went wrong",
      retry: "Try again",
      error_network: "Could not reach the server. Check the connection and try again.",
      error_timeout: "No result within 2 minutes. Try again.",
      error_unexpected: "The server sent an unexpected answer (HTTP {status}). Try again.",
      docs_link: "API reference",
    },
  };
  // Stages that tick in the checklist, in pipeline order (the status document's `steps`).
  const CHECKLIST = ["download", "cache", "preprocess", "vision", "feedback", "bins"];
  const STEP_MARKS = { done: "✓", current: "…", waiting: "·" };
  const ENDED = ["finished", "failed", "canceled"];
  // Below this confidence the person is offered the category list.
  const LOW_CONFIDENCE = 0.6;
  const GIVE_UP_MS = 120000;
  const MAX_RETRY_WAIT_MS = 5000;
  // The feedback provider whose text is the rules catalogue, so it can be fetched again in another language.
  const CATALOGUE_PROVIDER = "offline:rules";

  const categories = JSON.parse(document.getElementById("category-labels").textContent);
  const byId = (id) => document.getElementById(id);
  const state = {
    locale: initialLocale(),
    location: null,
    locationKey: "location_none",
    locationValues: {},
    file: null,
    previewUrl: null,
    job: null, // the run in progress; replaced when the person starts over
    lastDocument: null,
    announcedStage: null,
    view: null, // what the result card shows: {waste, feedback, bins, bins_note, locale}
    pickedCategory: null,
    pickReason: null, // why the category list is offered: {key, percent}
    retry: null,
  };

  function initialLocale() {
    const requested = new URLSearchParams(window.location.search).get("locale");
    return requested === "en" ? "en" : "ko";
  }

  function t(key, values) {
    const template = STRINGS[state.locale][key];
    return template.replace(/\{(\w+)\}/g, (_, name) => String((values || {})[name]));
  }

  function labelOf(category) {
    const entry = categories.find((item) => item.key === category);
    return entry ? entry[state.locale] : category;
  }

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, value);
    }
    for (const child of children) {
      node.append(child);
    }
    return node;
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // --- panels and language ---------------------------------------------

  function show(panels) {
    for (const id of ["start-panel", "progress-panel", "result-panel", "pick-panel", "error-panel", "again-block"]) {
      byId(id).hidden = !panels.includes(id);
    }
  }

  function applyLanguage() {
    document.documentElement.lang = state.locale;
    document.title = t("title");
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n);
    }
    // The toggle names the other language in that language.
    const toggle = byId("language-toggle");
    toggle.textContent = t("language_toggle");
    toggle.lang = state.locale === "ko" ? "en" : "ko";
    byId("location-status").textContent = t(state.locationKey, state.locationValues);
    renderChecklist(state.lastDocument);
    renderPickGrid();
    if (state.view) {
      renderResult();
    }
  }

  async function toggleLanguage() {
    state.locale = state.locale === "ko" ? "en" : "ko";
    applyLanguage();
    const view = state.view;
    if (view && view.locale !== state.locale && view.feedback.provider === CATALOGUE_PROVIDER) {
      // Catalogue advice exists in both languages, so show it in the new one.
      // On failure the card keeps the text it has, with the language note.
      const { advice } = await fetchAdvice(view.waste.category);
      if (advice && state.view === view) {
        state.view = { ...view, feedback: advice.feedback, bins: advice.bins, bins_note: advice.bins_note, locale: state.locale };
        renderResult();
      }
    }
  }

  // --- location ---------------------------------------------------------

  function setLocationStatus(key, values) {
    state.locationKey = key;
    state.locationValues = values || {};
    byId("location-status").textContent = t(key, values);
  }

  function askLocation() {
    if (!navigator.geolocation) {
      setLocationStatus("location_unsupported");
      return;
    }
    setLocationStatus("location_asking");
    navigator.geolocation.getCurrentPosition(
      (position) => {
        // About a metre of precision is enough to find the nearest bins.
        state.location = {
          lat: position.coords.latitude.toFixed(5),
          lon: position.coords.longitude.toFixed(5),
        };
        setLocationStatus("location_set", { accuracy: Math.round(position.coords.accuracy) });
      },
      () => {
        state.location = null;
        setLocationStatus("location_failed");
      },
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 60000 },
    );
  }

  function locationParams() {
    const params = new URLSearchParams({ locale: state.locale });
    if (state.location) {
      params.set("lat", state.location.lat);
      params.set("lon", state.location.lon);
    }
    return params;
  }

  // --- the job ----------------------------------------------------------

  function choosePhoto(event) {
    const file = event.target.files[0];
    if (!file) {
      return;
    }
    state.file = file;
    if (state.previewUrl) {
      URL.revokeObjectURL(state.previewUrl);
    }
    state.previewUrl = URL.createObjectURL(file);
    analyze();
  }

  async function analyze() {
    const job = { statusUrl: null, intervalMs: 500, locale: state.locale, etag: null };
    state.job = job;
    state.view = null;
    state.pickedCategory = null;
    state.pickReason = null;
    state.lastDocument = null;
    state.announcedStage = null;
    state.retry = analyze;
    resetProgress();
    show(["progress-panel"]);

    // The server recognises the photo by its bytes. A file whose type is not image/*
    // is sent as octet-stream, so the error message names the real problem.
    const type = state.file.type && state.file.type.startsWith("image/") ? state.file.type : "application/octet-stream";
    let response;
    try {
      response = await fetch("/api/v1/waste/analyze?" + locationParams(), {
        method: "POST",
        body: state.file,
        headers: { "Content-Type": type },
      });
    } catch (error) {
      response = null;
    }
    if (state.job !== job) {
      return; // the person started over while the photo was being sent
    }
    if (response === null) {
      return showError(t("error_network"));
    }
    if (response.status !== 202) {
      return showError(await errorMessage(response));
    }
    const created = await response.json();
    job.statusUrl = created.status_url;
    job.intervalMs = created.poll_interval_ms || 500;
    await poll(job);
  }

  async function poll(job) {
    const startedAt = Date.now();
    while (state.job === job) {
      if (Date.now() - startedAt > GIVE_UP_MS) {
        return showError(t("error_timeout"));
      }
      let waitMs = job.intervalMs;
      let response = null;
      try {
        const headers = job.etag ? { "If-None-Match": job.etag } : {};
        response = await fetch(job.statusUrl, { headers, cache: "no-store" });
      } catch (error) {
        response = null; // a lost poll is tried again on the next tick
      }
      if (state.job !== job) {
        return;
      }
      if (response && response.status === 200) {
        job.etag = response.headers.get("ETag");
        const documentBody = await response.json();
        renderStatus(documentBody);
        if (ENDED.includes(documentBody.status)) {
          return finish(job, documentBody);
        }
      } else if (response && (response.status === 429 || response.status === 503)) {
        const retryAfterS = Number(response.headers.get("Retry-After"));
        waitMs = retryAfterS > 0 ? retryAfterS * 1000 : Math.min(waitMs * 2, MAX_RETRY_WAIT_MS);
      } else if (response && response.status !== 304 && response.status < 500) {
        return showError(await errorMessage(response));
      }
      await sleep(waitMs);
    }
  }

  function finish(job, statusDocument) {
    if (statusDocument.status !== "finished") {
      const error = statusDocument.error || {};
      return showError(error.message || statusDocument.message);
    }
    const result = statusDocument.result;
    state.view = {
      waste: result.waste,
      feedback: result.feedback,
      bins: result.bins,
      bins_note: result.bins_note,
      locale: job.locale,
    };
    state.retry = null;
    renderResult();
    const unknown = result.waste.category === "unknown";
    if (unknown || result.waste.confidence < LOW_CONFIDENCE) {
      state.pickReason = {
        key: unknown ? "pick_intro_unknown" : "pick_intro_unsure",
        percent: Math.round(result.waste.confidence * 100),
      };
      renderPickGrid();
      show(["result-panel", "pick-panel", "again-block"]);
    } else {
      show(["result-panel", "again-block"]);
    }
    byId("result-label").focus();
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) {
        return body.error.message;
      }
    } catch (error) {
      // Not an error document: fall through to the generic message.
    }
    return t("error_unexpected", { status: response.status });
  }

  function showError(message) {
    byId("error-message").textContent = message;
    byId("retry-button").hidden = state.retry === null;
    show(["error-panel", "again-block"]);
  }

  // --- progress ---------------------------------------------------------

  function resetProgress() {
    const preview = byId("photo-preview");
    preview.hidden = !state.previewUrl;
    if (state.previewUrl) {
      preview.src = state.previewUrl;
    }
    setProgress(0);
    delete byId("progress-bar").dataset.stage;
    byId("progress-message").textContent = t("sending");
    byId("queue-position").hidden = true;
    renderChecklist(null);
  }

  function setProgress(percent) {
    const bar = byId("progress-bar");
    bar.setAttribute("aria-valuenow", String(percent));
    bar.setAttribute("aria-valuetext", percent + "%");
    byId("bar-fill").style.width = percent + "%";
    byId("progress-percent").textContent = percent + "%";
  }

  function renderStatus(statusDocument) {
    state.lastDocument = statusDocument;
    setProgress(statusDocument.progress);
    byId("progress-bar").dataset.stage = statusDocument.stage;
    byId("progress-message").textContent = statusDocument.message;
    const queue = byId("queue-position");
    queue.hidden = !statusDocument.queue_position;
    if (statusDocument.queue_position) {
      queue.textContent = t("queue_position", { position: statusDocument.queue_position });
    }
    renderChecklist(statusDocument);
    announceStage(statusDocument);
  }

  // Screen readers hear each stage once, not every percent.
  function announceStage(statusDocument) {
    if (statusDocument.status === "failed" || statusDocument.status === "canceled") {
      return; // the error panel's alert announces it
    }
    if (statusDocument.stage === state.announcedStage) {
      return;
    }
    state.announcedStage = statusDocument.stage;
    byId("announcer").textContent = t("stage_" + statusDocument.stage);
  }

  function renderChecklist(statusDocument) {
    const steps = (statusDocument && statusDocument.steps) || {};
    const current = statusDocument ? statusDocument.stage : null;
    const items = CHECKLIST.map((stage) => {
      let stepState = "waiting";
      if (steps[stage]) {
        stepState = "done";
      } else if (stage === current) {
        stepState = "current";
      }
      return element(
        "li",
        { "data-stage": stage, "data-state": stepState },
        element("span", { class: "mark", "aria-hidden": "true" }, STEP_MARKS[stepState]),
        element("span", { class: "step-label" }, t("stage_" + stage)),
        element("span", { class: "visually-hidden" }, " (" + t("step_state_" + stepState) + ")"),
      );
    });
    byId("checklist").replaceChildren(...items);
  }

  // --- result -----------------------------------------------------------

  function renderResult() {
    const view = state.view;
    const waste = view.waste;
    byId("result-label").textContent = labelOf(waste.category);
    byId("result-confidence").textContent =
      waste.provider === "user" ? t("picked_by_user") : t("confidence", { percent: Math.round(waste.confidence * 100) });
    const reason = byId("result-reason");
    reason.hidden = !waste.reason || view.locale !== state.locale;
    reason.textContent = waste.reason || "";
    byId("result-language-note").hidden = view.locale === state.locale;
    byId("result-language-note").textContent = t("ai_language_note");

    byId("result-summary").textContent = view.feedback.summary;
    byId("result-steps").replaceChildren(...view.feedback.steps.map((step) => element("li", {}, step)));
    byId("result-cautions").replaceChildren(...view.feedback.cautions.map((caution) => element("li", {}, caution)));
    byId("result-cautions-block").hidden = view.feedback.cautions.length === 0;
    renderBins(view.bins);
    byId("result-bins-note").textContent = view.bins_note || "";
    byId("result-provider").textContent = t("provider", { provider: view.feedback.provider });
  }

  function renderBins(bins) {
    const list = byId("result-bins");
    if (bins.length === 0) {
      list.replaceChildren(element("li", { class: "empty" }, t("no_bins")));
      return;
    }
    list.replaceChildren(
      ...bins.map((item) => {
        const address = encodeURIComponent(item.address);
        const date = item.reference_date ? t("reference_date", { date: item.reference_date }) : t("reference_date_unknown");
        return element(
          "li",
          { class: "bin" },
          element(
            "p",
            { class: "bin-head" },
            element("strong", { class: "distance" }, t("distance", { metres: item.distance_m.toLocaleString(state.locale) })),
            " ",
            element("span", { class: "bin-name" }, item.name),
          ),
          element("p", { class: "bin-address" }, item.address),
          element("p", { class: "bin-source" }, t("source", { source: item.source }), " · ", date),
          element(
            "p",
            { class: "map-links" },
            element("a", { href: "https://map.kakao.com/?q=" + address, target: "_blank", rel: "noopener noreferrer" }, t("map_kakao")),
            " ",
            element("a", { href: "https://map.naver.com/p/search/" + address, target: "_blank", rel: "noopener noreferrer" }, t("map_naver")),
          ),
        );
      }),
    );
  }

  // --- picking the category ----------------------------------------------

  function renderPickGrid() {
    if (state.pickReason) {
      byId("pick-intro").textContent = t(state.pickReason.key, { percent: state.pickReason.percent });
    }
    const buttons = categories
      .filter((item) => item.key !== "unknown")
      .map((item) => {
        const button = element("button", { type: "button", class: "pick", "data-category": item.key }, item[state.locale]);
        button.setAttribute("aria-pressed", String(item.key === state.pickedCategory));
        button.addEventListener("click", () => pickCategory(item.key));
        return button;
      });
    byId("pick-grid").replaceChildren(...buttons);
  }

  // Resolves to {advice} or {error: message to show}.
  async function fetchAdvice(category) {
    const params = locationParams();
    params.set("category", category);
    let response;
    try {
      response = await fetch("/api/v1/waste/advice?" + params, { cache: "no-store" });
    } catch (error) {
      return { error: t("error_network") };
    }
    if (response.status !== 200) {
      return { error: await errorMessage(response) };
    }
    return { advice: await response.json() };
  }

  async function pickCategory(category) {
    state.pickedCategory = category;
    state.retry = () => pickCategory(category);
    renderPickGrid();
    byId("result-summary").textContent = t("loading_advice");
    const { advice, error } = await fetchAdvice(category);
    if (state.pickedCategory !== category) {
      return; // another pick or a new photo came first
    }
    if (error) {
      return showError(error);
    }
    state.retry = null;
    state.view = { ...advice, locale: state.locale };
    renderResult();
    show(["result-panel", "pick-panel", "again-block"]);
    byId("result-label").focus();
  }

  function startOver() {
    state.job = null;
    state.view = null;
    state.pickedCategory = null;
    state.pickReason = null;
    state.lastDocument = null;
    state.retry = null;
    byId("photo-input").value = "";
    show(["start-panel"]);
    byId("photo-input").focus();
  }

  function retry() {
    if (state.retry) {
      state.retry();
    }
  }

  byId("language-toggle").addEventListener("click", toggleLanguage);
  byId("location-button").addEventListener("click", askLocation);
  byId("photo-input").addEventListener("change", choosePhoto);
  // A file the browser cannot show (not an image, or HEIC in most browsers) gets no preview.
  byId("photo-preview").addEventListener("error", () => {
    byId("photo-preview").hidden = true;
  });
  byId("retry-button").addEventListener("click", retry);
  byId("again-button").addEventListener("click", startOver);
  applyLanguage();
})();
