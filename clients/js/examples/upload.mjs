// 上传材料：离线时先排队，草稿或申请里先写占位符；发送前 SDK 用 wx.uploadFile 上传并换成 sha256。
export async function attachPhoto(client, draftId, matterCode, form, tempFilePath) {
  const placeholder = await client.blobs.add({ path: tempFilePath }); // 如 wx.chooseMedia 得到的临时路径
  await client.sync.saveDraft({
    draft_id: draftId, matter_code: matterCode, form,
    materials: [{ code: "hospital_invoice", blob_sha256: placeholder }],
  });
  await client.sync.syncUntilDone(10); // 先传文件，再推送引用它的草稿
  return client.sync.get("draft", draftId).materials[0].blob_sha256; // 已是服务端算出的 sha256
}
