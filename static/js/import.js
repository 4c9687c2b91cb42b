// Import: show upload progress for large files, and poll a background check or commit.
(function () {
  const form = document.getElementById("import-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      const file = form.querySelector("input[type=file]").files[0];
      if (!file || file.size < 200 * 1024) return;  // small files: a plain post
      event.preventDefault();
      const bar = document.getElementById("upload-progress");
      bar.classList.remove("d-none");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) bar.firstElementChild.style.width = (100 * e.loaded / e.total) + "%";
      };
      xhr.onload = () => {
        if (xhr.status >= 400) {  // refused (database busy, file too large): show the page that says why
          document.open(); document.write(xhr.responseText); document.close(); return;
        }
        window.location.href = xhr.responseURL;
      };
      xhr.send(new FormData(form));
    });
  }
  const job = document.getElementById("import-job");
  if (job && (job.dataset.state === "checking" || job.dataset.state === "committing")) {
    const poll = () => fetch(job.dataset.statusUrl, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then((r) => r.json())
      .then((s) => {
        if (s.error) { setTimeout(poll, 5000); return; }  // database away for a moment: ask again
        if (s.state !== "checking" && s.state !== "committing") { window.location.reload(); return; }
        document.getElementById("processed").textContent = s.processed;
        document.getElementById("total").textContent = s.total || "…";
        if (s.total) document.getElementById("job-progress").style.width = (100 * s.processed / s.total) + "%";
        setTimeout(poll, 1000);
      })
      .catch(() => setTimeout(poll, 5000));
    setTimeout(poll, 1000);
  }
})();
