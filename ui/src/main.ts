document.getElementById("app")!.textContent = "Deckhand";
